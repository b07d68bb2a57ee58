"""Market data: the bundled history, the option-price estimator, the calendar and the Polygon client."""
