"""structlog, configured once: JSON lines in production, readable console output in a terminal.

The standard library's ``logging`` (aio-pika, aiormq, uvicorn, asyncio, redis, Python warnings) goes through the
same processors and renderer via structlog's ``ProcessorFormatter`` on the root logger, so with JSON logs every line
on stderr is one JSON object, and a traceback is the ``exception`` field of its line, not plain text.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

#: a handler this module installed on the root logger (replaced, never stacked, when configured again)
_HANDLER_NAME = "stormwatch"


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _route_stdlib_logging(renderer, numeric)


def _route_stdlib_logging(renderer: Any, level: int) -> None:
    """The root logger writes through structlog: the library's logger name as ``logger``, its level, our fields."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.add_logger_name],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)  # ours, from an earlier call
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings.warn(...) lines too, as logger "py.warnings"
