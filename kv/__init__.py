"""Redis conventions every package shares, below all of them (imports no first-party package).

- ``scripts.py``: the one Lua convention. A script is a ``.lua`` file in its package's ``lua/`` folder, loaded by
  name and run by SHA (many at a time in one pipeline), reloaded once if Redis forgot it.
- ``due.py``, the due-time service: everything that must happen later, exactly once across workers, as timers of
  registered kinds on one sharded index (``lua/due_claim.lua`` claims with a lease, ``lua/due_complete.lua``
  completes conditionally, ``lua/due_upgrade.lua`` moves an older layout in); the shell runs its loop.
"""
