"""The checks before an action run, one small stage each, composed by a ``Chain`` (see ``chain.py``)."""
