"""Backups of one service that restore: its PostgreSQL database (pg_dump's custom format) and its files (documents'
PDFs and signing material, intake's scans), with a manifest that says what the backup holds and lets a restore
refuse what would do harm; and the replay that gives a restored service back what it consumed after its backup.

Why a replay: a service acknowledges an event only after committing its effect, so the events it consumed after
the backup were acknowledged and are gone from its queues. Their producers still hold them in their outboxes, with
the time each was committed. `replay` marks those rows unsent again (the ones the restored service subscribes to,
since the backup time less a margin for the backlog it had then); the producers' relays publish them again with
their original ids. The restored service's inbox drops those it had handled before the backup, applies the others,
and the events it adds while doing so get the ids they had the first time (a consumer's event is "the n-th of its
type about its subject that handling this event added": dukcapil_shared.messaging.unit_of_work.caused_by), so the
other services' inboxes drop them. Rows its own outbox
had not yet sent at the backup time are published again by its relay, with the same ids, and dropped the same way.

The command-line tools pg_dump, pg_restore and psql of the server's major version do the database work.
"""

import datetime as dt
import hashlib
import json
import re
import subprocess
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dukcapil_ops.client import OpsError

MANIFEST = "manifest.json"
DATABASE_DUMP = "database.dump"
FORMAT = 1
DEFAULT_REPLAY_MARGIN = dt.timedelta(hours=1)
"""How far before the backup a replay starts: events committed before the backup but still queued at the service
then (its backlog) were consumed after it. An hour covers a service that was a little behind; give more with
--margin if it was down or far behind when the backup ran. Replaying too much costs only inbox look-ups."""

FILES: dict[str, tuple[tuple[str, str], ...]] = {
    "intake": (("INTAKE_ATTACHMENTS_DIR", "var/attachments"),),
    "documents": (("DOCUMENTS_STORAGE_DIR", "var/documents"), ("DOCUMENTS_PKI_DIR", "var/pki")),
}
"""The folders of files a service keeps besides its database (the setting that moves each, its default)."""


class BackupRefused(OpsError):
    """A restore that would do harm; --force overrides where the operator knows better."""


@dataclass(frozen=True)
class Archive:
    source: str
    """The folder the files came from (and go back to)."""
    file: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    service: str
    started_at: str
    """When pg_dump took its snapshot (UTC, ISO 8601): the database holds what was committed before it."""
    migration_head: str | None
    database: Archive
    files: list[Archive] = field(default_factory=list)
    format: int = FORMAT

    @property
    def started(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.started_at)

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT:
                raise BackupRefused(f"{path}: manifest format {data.get('format')!r}, this tool reads {FORMAT}")
            return cls(
                service=data["service"],
                started_at=data["started_at"],
                migration_head=data["migration_head"],
                database=Archive(**data["database"]),
                files=[Archive(**each) for each in data["files"]],
            )
        except FileNotFoundError as error:
            raise BackupRefused(f"no {MANIFEST} in {folder}: not a backup of this tool") from error
        except (ValueError, KeyError, TypeError) as error:
            raise BackupRefused(f"{path} is not a readable manifest: {error}") from error


def libpq_url(url: str) -> str:
    """A service's SQLAlchemy URL (postgresql+asyncpg://...) as psql and pg_dump read it."""
    scheme = urlsplit(url).scheme
    if not scheme.startswith("postgresql"):
        raise OpsError(
            f"{scheme or 'that'} database: backups are made of PostgreSQL databases (a service's SQLite file is "
            "copied with `sqlite3 FILE '.backup COPY'` while the service is stopped)"
        )
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _run(command: Sequence[str], what: str, timeout: float = 3600) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise OpsError(f"{command[0]} is not installed (apt-get install postgresql-client)") from error
    if done.returncode != 0:
        raise OpsError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _query(url: str, sql: str) -> list[str]:
    output = _run(["psql", libpq_url(url), "-X", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql], "psql")
    return [line for line in output.splitlines() if line]


def migration_head(url: str) -> str | None:
    """The Alembic revision the database is at; None for a database without Alembic's table."""
    if not _query(url, "SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'alembic_version'"):
        return None
    heads = _query(url, "SELECT version_num FROM alembic_version")
    return heads[0] if heads else None


def table_count(url: str) -> int:
    [count] = _query(url, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
    return int(count)


def code_head(service: str) -> str | None:
    """The migration head of the service's code installed here; None if it is not installed."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", f"dukcapil_{service}:migrations")
    try:
        return ScriptDirectory.from_config(config).get_current_head()
    except (ImportError, ValueError, RuntimeError):
        return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _archive(path: Path, source: str) -> Archive:
    return Archive(source=source, file=path.name, sha256=_sha256(path), bytes=path.stat().st_size)


def default_folders(service: str, environ: Mapping[str, str]) -> list[str]:
    return [environ.get(setting, default) for setting, default in FILES.get(service, ())]


def backup(
    *, service: str, database_url: str, folders: Sequence[str], out: Path, now: dt.datetime | None = None
) -> tuple[Path, Manifest]:
    """Dump the database and archive each folder into a new folder under `out`; returns it and its manifest."""
    started = now or dt.datetime.now(dt.UTC)
    target = out / f"{service}-{started:%Y%m%dT%H%M%S%fZ}"
    target.mkdir(parents=True, exist_ok=False)
    head = migration_head(database_url)
    dump = target / DATABASE_DUMP
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", libpq_url(database_url)], "pg_dump")
    archives = []
    for index, folder in enumerate(folders):
        source = Path(folder)
        if not source.is_dir():
            raise OpsError(f"{folder} is not a folder: name the {service} service's folders with --files")
        path = target / f"files-{index}.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            tar.add(source, arcname=".")
        archives.append(_archive(path, str(source.resolve())))
    manifest = Manifest(
        service=service,
        started_at=started.isoformat(),
        migration_head=head,
        database=_archive(dump, libpq_url(database_url).rsplit("@", 1)[-1]),
        files=archives,
    )
    manifest.write(target)
    return target, manifest


def check(folder: Path) -> Manifest:
    """The manifest of a backup whose every file is there with the checksum it was written with."""
    manifest = Manifest.read(folder)
    for archive in [manifest.database, *manifest.files]:
        path = folder / archive.file
        if not path.is_file():
            raise BackupRefused(f"{path} is missing")
        if _sha256(path) != archive.sha256:
            raise BackupRefused(f"{path} does not match its checksum in the manifest: the backup is damaged")
    return manifest


def restore(
    folder: Path,
    *,
    database_url: str,
    service: str | None = None,
    files_to: Mapping[str, str] | None = None,
    force: bool = False,
    expected_head: str | None = None,
) -> Manifest:
    """Restore a backup into an empty database (and its files into their folders). Refused, unless `force`: a
    backup of another service, a database that holds tables, a backup made at another migration head than the
    service's code (`expected_head`, else the code installed here)."""
    manifest = check(folder)
    if service is not None and service != manifest.service:
        raise BackupRefused(f"this is a backup of {manifest.service}, not of {service}")
    tables = table_count(database_url)
    if tables and not force:
        raise BackupRefused(
            f"the database holds {tables} tables: restore into an empty database (DROP DATABASE, CREATE DATABASE), "
            "or give --force to replace what is there"
        )
    head = expected_head or code_head(manifest.service)
    if head != manifest.migration_head and not force:
        raise BackupRefused(
            f"the backup is at migration {manifest.migration_head}, the {manifest.service} code at {head}: restore "
            "with the release that made the backup, or give --force (the service migrates a backup older than its "
            "code when it starts; a newer one it cannot read)"
        )
    command = ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={libpq_url(database_url)}"]
    if tables:
        command += ["--clean", "--if-exists"]
    _run([*command, str(folder / manifest.database.file)], "pg_restore")
    for archive in manifest.files:
        destination = Path((files_to or {}).get(archive.source, archive.source))
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / archive.file, "r:gz") as tar:
            tar.extractall(destination, filter="data")
    return manifest


@dataclass(frozen=True)
class Replayed:
    producer: str
    events: int


def subscribed_routing_keys(access_plan: Path, service: str) -> str:
    """The pattern of routing keys `service` reads from the events exchange (deploy/rabbitmq/access.json)."""
    try:
        plan: dict[str, Any] = json.loads(access_plan.read_text(encoding="utf-8"))
        topics = plan["services"][service]["topics"]
        return next(topic["read"] for topic in topics if topic["exchange"] == "dukcapil.events")
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise OpsError(f"cannot read what {service} subscribes to from {access_plan}: {error}") from error


def replay(
    *,
    service: str,
    since: dt.datetime,
    producers: Mapping[str, str],
    access_plan: Path,
    margin: dt.timedelta = DEFAULT_REPLAY_MARGIN,
) -> list[Replayed]:
    """Mark unsent again, in each producer's outbox, the events `service` subscribes to that were committed from
    `since - margin` on: the producers' relays publish them again with their ids (see the module's docstring)."""
    if not producers:
        raise OpsError("name the databases of the services whose events to replay (--from-database SERVICE=URL)")
    pattern = subscribed_routing_keys(access_plan, service)
    start = (since - margin).astimezone(dt.UTC).isoformat()
    replayed = []
    for producer, url in producers.items():
        sql = (
            "WITH again AS (UPDATE outbox SET published_at = NULL, attempts = 0, last_error = NULL, "
            f"next_attempt_at = now() WHERE published_at IS NOT NULL AND created_at >= '{start}'::timestamptz "
            f"AND routing_key ~ '{_literal(pattern)}' RETURNING 1) SELECT count(*) FROM again"
        )
        [count] = _query(url, sql)
        replayed.append(Replayed(producer=producer, events=int(count)))
    return replayed


def _literal(text: str) -> str:
    return text.replace("'", "''")
