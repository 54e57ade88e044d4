"""What a person sees when a service cannot start: one sentence on stderr saying what to fix, one structured log line
with the same, and an exit status that says which kind of failure it was. Never a traceback, and never a setting's
value (pydantic's errors would echo it: `load_settings` words them without).

Each service's `__main__` runs inside `reported_startup_errors`:

    with reported_startup_errors("review"):
        settings = load_settings(ReviewSettings)
        serve(build_app(settings), settings)
"""

import contextlib
import sys
import traceback
from collections.abc import Iterator

import structlog
from sqlalchemy.exc import DBAPIError

from dukcapil_shared.logging import configure_logging
from dukcapil_shared.settings import SettingsRefused

log = structlog.get_logger(__name__)

EXIT_SOFTWARE = 70
"""EX_SOFTWARE: a fault of ours (the log line says where)."""
EXIT_UNAVAILABLE = 69
"""EX_UNAVAILABLE: something the service needs did not answer (the broker, the database); starting again later may
work."""
EXIT_CONFIGURATION = 78
"""EX_CONFIG: the settings, or what they name, are wrong; starting again will not help until they are fixed."""


class StartupRefused(Exception):
    """A reason not to start that a person can act on; `str()` says what to fix (never a secret)."""

    exit_status = EXIT_CONFIGURATION
    reason = "misconfigured"


class DependencyUnavailable(StartupRefused):
    """Something the service needs (the broker, the database) is not there, or not yet."""

    exit_status = EXIT_UNAVAILABLE
    reason = "dependency_unavailable"


@contextlib.contextmanager
def reported_startup_errors(service: str) -> Iterator[None]:
    """Runs a service's start; a failure ends the process with one line for a person and one for the log."""
    configure_logging(service)  # the service's own settings configure it again once they are read
    try:
        yield
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:  # the entry point: whatever stops the start is told, then the process ends
        reason, message, status = describe(error)
        fields: dict[str, object] = {}
        if status == EXIT_SOFTWARE and (frames := traceback.extract_tb(error.__traceback__)):
            fields["where"] = f"{frames[-1].filename}:{frames[-1].lineno}"  # a bug: where to look
        log.error("startup_failed", reason=reason, problem=message, **fields)
        print(f"{service} cannot start: {message}", file=sys.stderr, flush=True)
        raise SystemExit(status) from None


def describe(error: BaseException) -> tuple[str, str, int]:
    """(reason, a sentence for a person, exit status) for what stopped a start."""
    if isinstance(error, SettingsRefused):
        return "settings_refused", f"its settings are refused. {error}", EXIT_CONFIGURATION
    if isinstance(error, StartupRefused):
        return error.reason, str(error), error.exit_status
    if isinstance(error, DBAPIError):  # the server answered, and refused
        cause = error.orig if error.orig is not None else error
        first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        return (
            "database_refused",
            f"its database refused it ({type(cause).__name__}: {first_line}); check the database URL and its password",
            EXIT_CONFIGURATION,
        )
    if isinstance(error, ConnectionError | TimeoutError):
        return "dependency_unavailable", f"a server it needs did not answer ({error})", EXIT_UNAVAILABLE
    if isinstance(error, OSError) and error.filename is not None:
        return "file_unusable", f"{error.strerror}: {error.filename}", EXIT_CONFIGURATION
    return "unexpected_error", f"{type(error).__name__}: {error}", EXIT_SOFTWARE
