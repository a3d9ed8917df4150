"""Offline tools that replay alerts through the correlation core without Redis or a broker: simulation, rule tests,
backtests and their scoring. Only the shell (the CLI) imports this package; correlation never does."""
