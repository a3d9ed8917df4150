"""Redis conventions every package shares, below all of them (imports no first-party package).

- ``scripts.py``: the one Lua convention. A script is a ``.lua`` file in its package's ``lua/`` folder, loaded by
  name and run by SHA (many at a time in one pipeline), reloaded once if Redis forgot it.
- the due-time service: everything that must happen later, exactly once across workers, as timers of registered
  kinds on one sharded index, claimed with a lease and completed conditionally.
"""
