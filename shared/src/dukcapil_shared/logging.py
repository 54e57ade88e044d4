"""Structured logs (JSON lines) that never carry a full NIK or a phone number.

Each line carries the service, the HTTP request id when it was written while serving one, and the trace and span
ids when it was written inside a span (tracing on), so a line leads to its trace and a trace to its lines.
"""

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from opentelemetry import trace

_NIK = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{4})(?!\d)")
_PHONE = re.compile(r"(?<![\d\w])(?:\+62|62|0)8\d{7,11}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mask_personal_data(text: str) -> str:
    """3602144107900001 -> 360214******0001; 081234567890 -> [phone]; siti@example.id -> [email]."""
    return _EMAIL.sub("[email]", _PHONE.sub("[phone]", _NIK.sub(r"\1******\2", text)))


# Hexadecimal ids of our own making: a trace id with sixteen digits in a row would otherwise be masked as a NIK
# (about one in two hundred of them) and no longer lead to its trace.
_NOT_PERSONAL = frozenset({"trace_id", "span_id"})


def _mask_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {
        key: mask_personal_data(value) if isinstance(value, str) and key not in _NOT_PERSONAL else value
        for key, value in event_dict.items()
    }


def add_trace_context(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", format(span_context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(span_context.span_id, "016x"))
    return event_dict


def configure_logging(service: str, level: str = "INFO", json: bool = True, stream: TextIO | None = None) -> None:
    """JSON lines (or console lines) to `stream`, stdout by default; a command-line tool whose stdout is its output
    logs to stderr."""
    stream = stream or sys.stdout
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared_processors, _mask_processor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through the standard library: give them the same format and the same masking.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _mask_processor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # FastStream's own logger writes coloured lines to stderr; its lines are to look like everyone else's.
    faststream = logging.getLogger("faststream")
    faststream.handlers.clear()
    faststream.propagate = True
    # fontTools tells every step of subsetting a font (documents) at INFO.
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
