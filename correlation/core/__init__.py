"""The pure core of correlation: decisions from state, alerts, rules and an explicit `now`. No Redis, no broker, no
asyncio, no wall clock and no randomness (ids and times come in as arguments); `tests/unit/test_architecture.py`
checks every module here."""
