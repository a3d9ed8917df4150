"""The Redis side of correlation: the key layout, the batch pipeline and its scripts (in `lua/`), the links between
groups, incident and problem queries and commands, silences and escalation. The decisions themselves are in
`correlation/core/`."""
