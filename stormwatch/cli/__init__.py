"""The ``stormwatch`` command (``stormwatch.cli:main``): a package with one module per domain, assembled in
``stormwatch.cli.app``. This file only re-exports; no module of the package imports it back."""

from stormwatch.cli.app import app, main

__all__ = ["app", "main"]
