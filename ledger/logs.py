"""The one place that configures logging: structlog, JSON in production, readable on a terminal.

Every library's standard-library logging (uvicorn, kafka-python, eventsourcing) goes
through the same processors, so each line is one JSON object (or one readable line)
with a level, a timestamp and the event. A redaction step runs last on every line:
no secret (bearer tokens, API keys, passwords in URLs) reaches a log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

SECRET_KEYS = re.compile(r"authorization|token|password|secret|api_key|admin_key|^key$", re.I)
SECRET_VALUES = re.compile(
    r"(?P<scheme>bearer\s+)\S+|(?P<userinfo>://[^:/@\s]+:)[^@\s]+@|\b(?:lk|op)_[A-Za-z0-9_-]{8,}",
    re.I,
)


def mask(text: str) -> str:
    """Mask bearer tokens, API keys (`lk_...`, `op_...`) and passwords inside URLs."""

    def hide(match: re.Match[str]) -> str:
        if match.group("scheme"):
            return match.group("scheme") + "***"
        if match.group("userinfo"):
            return match.group("userinfo") + "***@"
        return "***"

    return SECRET_VALUES.sub(hide, text)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's duplicate of the message, with ANSI codes
    for key, value in event.items():
        if SECRET_KEYS.search(key) and key != "event":
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = mask(value)
    return event


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (a test runner swaps and closes its captures)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure logging once per process; `fmt` is json, console or auto (console on a tty)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    handler = _CurrentStderr()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Chatty libraries: their debug lines are not the operator's business.
    for name in ("kafka", "eventsourcing", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        # filter_by_level first: a line below the level costs a level check, not the
        # whole chain (the access log's per-request line at `warning`, for one).
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def cause(error: BaseException) -> str:
    """One line naming an error and its first message line (for an error's log line)."""
    text = str(error).strip().splitlines()
    return mask(f"{type(error).__name__}: {text[0]}" if text else type(error).__name__)


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
