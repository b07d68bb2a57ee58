from trading.cli import cli

cli()
