"""``python -m stormwatch.cli``: the ``stormwatch`` command (how ``serve --processes`` starts its workers)."""

from stormwatch.cli.app import main

main()
