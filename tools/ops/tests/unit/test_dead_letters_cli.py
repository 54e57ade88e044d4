"""The operators' command line (dukcapil-ops) against a service's dead-letter API, without a broker."""

import json
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path

from fastapi import FastAPI, Request

from dukcapil_shared.auth.roles import Role
from dukcapil_shared.ops import service
from dukcapil_testing import (
    FakeOpsUnitOfWork,
    FakeRepublisher,
    consumer_dead_letter,
    dead_letter_app,
    development_token,
    run_ops_cli,
)


async def run_cli(app: FastAPI, *argv: str) -> tuple[int, str]:
    """The command line against `app` as review, signed in as the admin rina."""
    environ = {
        "DUKCAPIL_REVIEW_URL": "http://review.test",
        "DUKCAPIL_TOKEN": development_token(Role.ADMIN, username="rina"),
    }
    status, out, _ = await run_ops_cli({"http://review.test": app}, *argv, environ=environ)
    return status, out


async def test_the_command_line_lists_shows_replays_and_discards() -> None:
    uow, republisher = FakeOpsUnitOfWork(), FakeRepublisher()
    first, second = consumer_dead_letter(), consumer_dead_letter()
    for letter in (first, second):
        await service.park(letter, uow=uow, service="review")
    app = dead_letter_app(uow, republisher)

    status, listed = await run_cli(app, "dead-letters", "list", "--service", "review")
    assert status == 0 and str(first.id) in listed and "dukcapil.review.requests" in listed and "ATTEMPTS" in listed
    status, shown = await run_cli(app, "dead-letters", "show", str(first.id))
    assert status == 0 and "request.cancelled.v1" in shown and first.message_id in shown
    status, replayed = await run_cli(app, "dead-letters", "replay", str(first.id))
    assert status == 0 and "replayed by rina" in replayed
    status, _ = await run_cli(app, "dead-letters", "replay", str(first.id), "--service", "review")
    assert status == 1
    status, discarded = await run_cli(
        app, "dead-letters", "discard", str(second.id), "--why", "test data", "--reason", "clearing test data"
    )
    assert status == 0 and "discarded" in discarded
    assert app.state.access_log.records[-1].reason == "clearing test data"
    status, as_json = await run_cli(app, "dead-letters", "list", "--service", "review", "--status", "all", "--json")
    assert {item["status"] for item in json.loads(as_json)} == {"replayed", "discarded"}
    status, report = await run_cli(app, "dead-letters", "replay", "--all", "--service", "review")
    assert status == 0 and "0 replayed" in report


async def test_the_command_line_refuses_usage_mistakes_with_status_2_and_says_why() -> None:
    app = dead_letter_app(FakeOpsUnitOfWork())
    environ = {"DUKCAPIL_TOKEN": development_token(Role.ADMIN)}
    status, _, err = await run_ops_cli({"http://review.test": app}, "dead-letters", "replay", environ=environ)
    assert status == 2 and "--all" in err
    status, _, err = await run_ops_cli(
        {"http://review.test": app}, "dead-letters", "replay", str(uuid.uuid4()), "--all", environ=environ
    )
    assert status == 2
    status, _, err = await run_ops_cli({}, "dead-letters", "list", "--url", "http://review.test", environ=environ)
    assert status == 1 and "--url needs --service" in err
    status, _, err = await run_ops_cli({}, "dead-letters", "list", "--status", "lost", environ=environ)
    assert status == 2 and "lost" in err


async def test_without_a_token_the_command_line_signs_in_as_the_development_account_that_holds_the_scope() -> None:
    signed_in: list[str] = []
    intake = FastAPI()

    @intake.post("/auth/token")
    async def token(request: Request) -> dict[str, str]:
        form = urllib.parse.parse_qs((await request.body()).decode())
        signed_in.append(form["username"][0])
        role = {"admin": Role.ADMIN, "supervisor": Role.SUPERVISOR}.get(form["username"][0], Role.REVIEWER)
        return {"access_token": development_token(role, username=form["username"][0]), "token_type": "bearer"}

    apps = {"http://intake.test": intake, "http://review.test": dead_letter_app(FakeOpsUnitOfWork())}
    environ = {"DUKCAPIL_INTAKE_URL": "http://intake.test", "DUKCAPIL_REVIEW_URL": "http://review.test"}
    status, listed, _ = await run_ops_cli(apps, "dead-letters", "list", "--service", "review", environ=environ)
    assert (status, listed.strip(), signed_in) == (0, "No dead letters.", ["admin"])
    await run_ops_cli(apps, "statistics", "requests", environ=environ)
    await run_ops_cli(apps, "follow", str(uuid.uuid4()), "--reason", "citizen at the counter", environ=environ)
    assert signed_in[1:] == ["supervisor", "supervisor"]
    chosen = environ | {"DUKCAPIL_USER": "rina", "DUKCAPIL_PASSWORD": "secret"}
    await run_ops_cli(apps, "dead-letters", "list", "--service", "review", environ=chosen)
    await run_ops_cli(apps, "statistics", "overdue", "--user", "budi", environ=chosen)
    assert signed_in[3:] == ["rina", "budi"]


def test_the_command_line_is_installed_as_dukcapil_ops_and_runs_as_a_module() -> None:
    script = Path(sys.executable).parent / "dukcapil-ops"
    for command in ([str(script)], [sys.executable, "-m", "dukcapil_ops"]):
        shown = subprocess.run([*command, "statistics", "--help"], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert all(name in shown.stdout for name in ("requests", "lead-times", "overdue"))
