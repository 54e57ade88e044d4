"""Whether a folder a service keeps files in can take them, for its readiness: a service that could not store an
upload or an issued document is not ready, rather than retry each piece of work until it is dead-lettered."""

import contextlib
import errno
import os
import tempfile
from pathlib import Path

import anyio

_PROBE_PREFIX = ".readyz-"


class WritableFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def create(self) -> None:
        """Make the folder if it is missing; when it cannot be made, readiness says why."""
        with contextlib.suppress(OSError):
            self.path.mkdir(parents=True, exist_ok=True)

    async def problem(self, within: float) -> str | None:
        """None when a file can be made and removed in the folder now, else why not. A disk that hangs (a network
        mount) counts as not writable after `within` seconds; the probe's thread then finishes on its own."""
        with anyio.move_on_after(within):
            return await anyio.to_thread.run_sync(self.problem_now, abandon_on_cancel=True)
        return f"{self.path} did not answer within {within:g} s"

    def problem_now(self) -> str | None:
        # An empty file made and removed: the cheapest proof that the folder takes new files (permissions, a
        # read-only mount, a full inode table), where os.access would trust the mode bits alone.
        try:
            descriptor, name = tempfile.mkstemp(prefix=_PROBE_PREFIX, dir=self.path)
        except FileNotFoundError:
            return f"{self.path} does not exist"
        except NotADirectoryError:
            return f"{self.path} is not a folder"
        except OSError as error:
            if error.errno == errno.EROFS:
                return f"{self.path} is on a read-only file system"
            return f"{self.path} is not writable ({error.strerror})"
        os.close(descriptor)
        try:
            os.unlink(name)
        except OSError as error:
            return f"{self.path} takes files but does not let them be removed ({error.strerror})"
        return None
