"""The strategy: rules, WheelParameters, the optimizer, the daily trader and the CLI."""
