"""Security probes replayed against a real Stormwatch (docs/security.md): each test file is one area."""
