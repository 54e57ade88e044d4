"""Structured logs (JSON lines) that never carry a full NIK or a phone number."""

import logging
import re
import sys
from typing import Any, TextIO

import structlog

_NIK = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{4})(?!\d)")
_PHONE = re.compile(r"(?<![\d\w])(?:\+62|62|0)8\d{7,11}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mask_personal_data(text: str) -> str:
    """3602144107900001 -> 360214******0001; 081234567890 -> [phone]; siti@example.id -> [email]."""
    return _EMAIL.sub("[email]", _PHONE.sub("[phone]", _NIK.sub(r"\1******\2", text)))


def _mask_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: mask_personal_data(value) if isinstance(value, str) else value for key, value in event_dict.items()}


def configure_logging(service: str, level: str = "INFO", json: bool = True, stream: TextIO | None = None) -> None:
    """JSON lines (or console lines) to `stream`, stdout by default; a command-line tool whose stdout is its output
    logs to stderr."""
    stream = stream or sys.stdout
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
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
    for noisy in ("aiormq", "aio_pika", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
