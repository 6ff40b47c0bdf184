"""Structured JSON logs, one line per event, the request id on each, and no PHI: we log
methods, route templates, statuses, ids and timings, never bodies or query strings, and
the database driver's bound parameters are hidden from its errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

_shared: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure(level: str = "INFO", fmt: str = "json") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*_shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    # Libraries (uvicorn, arq, sqlalchemy) log through stdlib: same JSON lines.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _drop_exception_text,
                renderer,
            ],
            foreign_pre_chain=[*_shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log prints full paths with query strings (which may carry names):
    # our own access line replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every URL it calls at INFO, query strings included.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _drop_exception_text(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Library tracebacks can quote values (an SQL error's DETAIL line names the row):
    keep the exception's type and where it was raised, drop its message."""
    exc_info = event.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        if isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            import traceback

            event["error"] = exc_info[0].__name__
            event["frames"] = [
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}"
                for f in traceback.extract_tb(exc_info[2])[-8:]
            ]
    event.pop("exception", None)
    return event
