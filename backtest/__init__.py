"""The historical engine: the daily loop, mark-to-market and the metrics."""
