"""A service that cannot start says why in one sentence a person can act on, at once and without a traceback: its
settings refused, a virtual host it may not enter (NOT_ALLOWED), a password the broker refuses (ACCESS_REFUSED).

The services run as real processes against the local RabbitMQ, under a vhost and a user this module makes (and
deletes) itself.
"""

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from conftest import AMQP_HOST, AMQP_PORT, POSTGRES_DSN
from dukcapil_review import bootstrap
from dukcapil_review.settings import ReviewSettings
from dukcapil_shared.runtime import BrokerMisconfigured, DatabaseRefused, DatabaseUnavailable
from dukcapil_shared.startup import describe

# A service that retried a refusal would still be trying after half of this.
CONNECT_TIMEOUT = 60


class OwnBroker:
    def __init__(self, vhost: str, prefix: str, password: str) -> None:
        self.vhost, self.prefix, self.password = vhost, prefix, password


@pytest.fixture(scope="module")
def own_broker(rabbitmq_management: str) -> Iterator[OwnBroker]:
    """A vhost, and review's broker user on it with a password of this module's own."""
    api = httpx.Client(base_url=rabbitmq_management + "/api", auth=("guest", "guest"), timeout=60)
    name = f"dukcapil-test-startup-{uuid.uuid4().hex[:8]}"
    prefix, password = f"{name}-", secrets.token_urlsafe(16)
    user = quote(f"{prefix}review", safe="")
    api.put(f"/vhosts/{quote(name, safe='')}").raise_for_status()
    try:
        api.put(f"/users/{user}", json={"password": password, "tags": ""}).raise_for_status()
        everything = {"configure": ".*", "write": ".*", "read": ".*"}
        api.put(f"/permissions/{quote(name, safe='')}/{user}", json=everything).raise_for_status()
        yield OwnBroker(name, prefix, password)
    finally:
        api.delete(f"/users/{user}")
        api.delete(f"/vhosts/{quote(name, safe='')}")
        api.close()


def start_review(workdir: Path, **env: str) -> subprocess.Popen[str]:
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REVIEW_", "AMQP_URL", "BROKER_USER_PREFIX", "ENVIRONMENT"))
    }
    return subprocess.Popen(
        [sys.executable, "-m", "dukcapil_review"],
        cwd=workdir,
        env={
            **base,
            "REVIEW_DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/review.db",
            "REVIEW_PORT": "0",
            "REVIEW_BROKER_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def refusal(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=CONNECT_TIMEOUT + 120)
    return process.returncode, stdout, stderr


def seconds_between(stdout: str, first: str, last: str) -> float:
    """Seconds between two log lines of a process, by their timestamps: its start, not its imports."""
    times = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            times.setdefault(entry["event"], datetime.fromisoformat(entry["timestamp"]))
    return (times[last] - times[first]).total_seconds()


def test_a_failed_start_is_one_sentence_at_once_and_no_traceback(own_broker: OwnBroker, tmp_path: Path) -> None:
    (tmp_path / "vhost").mkdir()
    (tmp_path / "settings").mkdir()
    # Side by side: each waits mostly on its imports.
    missing_vhost = start_review(
        tmp_path / "vhost",
        ENVIRONMENT="development",
        BROKER_USER_PREFIX=own_broker.prefix,
        AMQP_URL=f"amqp://{AMQP_HOST}:{AMQP_PORT}/{own_broker.vhost}-absent",
        REVIEW_BROKER_PASSWORD=own_broker.password,
    )
    refused_settings = start_review(
        tmp_path / "settings", ENVIRONMENT="production", REVIEW_BROKER_PASSWORD=own_broker.password
    )
    outcomes = {"vhost": refusal(missing_vhost), "settings": refusal(refused_settings)}

    for name, (status, stdout, stderr) in outcomes.items():
        assert status == 78, (name, status, stderr)  # EX_CONFIG: starting again will not help
        assert "Traceback" not in stderr + stdout, name
        assert stderr.startswith("review cannot start: "), (name, stderr)  # one sentence, nothing before it
        assert '"event": "startup_failed"' in stdout, name
        assert own_broker.password not in stderr + stdout, name
    status, stdout, stderr = outcomes["vhost"]
    assert f"into virtual host '{own_broker.vhost}-absent' (NOT_ALLOWED)" in stderr and "reachable" not in stderr
    assert len(stderr.strip().splitlines()) == 1
    # Told once the start reached the broker, not after CONNECT_TIMEOUT of retries, whatever the machine's speed.
    assert seconds_between(stdout, "Waiting for application startup.", "startup_failed") < CONNECT_TIMEOUT / 2
    status, stdout, stderr = outcomes["settings"]
    assert "ENVIRONMENT=production refuses" in stderr and "set REVIEW_DATABASE_URL" in stderr


@pytest.mark.parametrize("refused", ["vhost", "password"])
async def test_the_broker_refusal_is_diagnosed_at_once(
    own_broker: OwnBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)
    wrong_password = secrets.token_urlsafe(16)
    vhost = f"{own_broker.vhost}-absent" if refused == "vhost" else own_broker.vhost
    settings = ReviewSettings(
        environment="development",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/review.db",
        amqp_url=f"amqp://{AMQP_HOST}:{AMQP_PORT}/{vhost}",
        broker_user_prefix=own_broker.prefix,
        broker_password=own_broker.password if refused == "vhost" else wrong_password,
        broker_connect_timeout=CONNECT_TIMEOUT,
        log_json=False,
    )
    runtime = bootstrap.build_app(settings).state.runtime
    started = time.monotonic()
    with pytest.raises(BrokerMisconfigured) as refusal:
        await runtime.start()
    assert time.monotonic() - started < CONNECT_TIMEOUT / 2, "a refusal that will not pass is not retried"
    await runtime.engine.dispose()
    reason, message, status = describe(refusal.value)
    assert (reason, status) == ("broker_refused", 78)
    expected = "(NOT_ALLOWED)" if refused == "vhost" else "(ACCESS_REFUSED)"
    assert expected in message and "reachable" not in message
    assert wrong_password not in message and own_broker.password not in message


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("postgresql+asyncpg://nobody-{suffix}:its-Pw-{suffix}@{host}/none", DatabaseRefused),
        ("postgresql+asyncpg://review:its-Pw-{suffix}@127.0.0.1:1/review", DatabaseUnavailable),
    ],
)
async def test_a_database_that_refuses_is_told_apart_from_one_that_does_not_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database: str, expected: type[Exception]
) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)
    suffix = uuid.uuid4().hex[:8]
    settings = ReviewSettings(
        environment="development",
        database_url=database.format(suffix=suffix, host=urlsplit(POSTGRES_DSN).netloc.rpartition("@")[2]),
        broker_password="not-used-here",  # the database comes first
        log_json=False,
    )
    runtime = bootstrap.build_app(settings).state.runtime
    with pytest.raises(expected) as problem:
        await runtime.start()
    await runtime.engine.dispose()
    _reason, message, status = describe(problem.value)
    assert status == (78 if expected is DatabaseRefused else 69)
    assert "REVIEW_DATABASE_URL" in message and f"its-Pw-{suffix}" not in message
