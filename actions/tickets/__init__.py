"""The ticketing bridge (issue 21): one adapter per ticketing system, the ``ticket`` action's executor."""
