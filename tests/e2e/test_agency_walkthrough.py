"""The agency walkthrough (docs/agencies.md, linked from the README) runs as written against a running system: the
operator's `python -m dukcapil_intake.agencies ...` commands, with intake's settings as `make run` gives them,
onboard, list, replay and offboard an agency through the real broker's management API. Only the agency's name is
made unique, so that the test never touches an agency someone onboarded on the same broker."""

import asyncio
import re
import shlex
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dukcapil_shared.messaging.access import SERVICES

from .system import System

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python -m dukcapil_intake.agencies"
# What each command answers when it worked, as the walkthrough shows it.
ANSWERS = {
    "events": "death.registered.v1",
    "onboard": "Onboarded {name}.",
    "list": "{name}",
    "replay": "Replayed 0 events to agency.{name}.events",
    "offboard": "Offboarded {name}: user agency-{name} deleted",
}


def walkthrough_commands() -> list[str]:
    """The agency commands of docs/agencies.md, in the order written: those in shell blocks (with their
    continuation lines) and those shown after a `$ ` prompt; plus `events`, named in the text."""
    text = (ROOT / "docs" / "agencies.md").read_text(encoding="utf-8")
    commands = [f"{COMMAND} events"] if f"`{COMMAND} events`" in text else []
    for block in re.findall(r"```(?:sh)?\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.removeprefix("$ ").strip()
            if line.startswith(COMMAND):
                commands.append(" ".join(line.split()))
    return commands


@pytest.fixture(scope="module")
async def system(rabbitmq, tmp_path_factory) -> AsyncIterator[System]:  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("agencies")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env(),
    )
    try:
        system.start("intake")  # the operator's commands need intake's database and the broker, nothing else
        await system.wait_ready("intake", timeout=120)
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


def test_the_walkthrough_shows_every_command_the_test_runs() -> None:
    verbs = {shlex.split(command)[3] for command in walkthrough_commands()}
    assert verbs == set(ANSWERS), verbs


async def test_the_agency_walkthrough_runs_as_written(system: System) -> None:
    name = f"bpjs-{uuid.uuid4().hex[:6]}"
    written = walkthrough_commands()
    names = {re.search(r"--name (\S+)", command).group(1) for command in written if "--name" in command}  # type: ignore[union-attr]
    commands = [re.sub(r"--name \S+", f"--name {name}", command) for command in written]
    # Offboarding goes last here: the walkthrough shows it with another agency, which this test does not onboard.
    commands.sort(key=lambda command: " offboard " in command)
    assert names, "the walkthrough names its agencies"

    environment = system.env("intake")
    for command in commands:
        argv = [sys.executable, *shlex.split(command)[1:]]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=system.workdir,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=120)
        stdout, stderr = out.decode(), err.decode()
        assert process.returncode == 0, f"{command}\n{stdout}\n{stderr}"
        verb = shlex.split(command)[3]
        assert ANSWERS[verb].format(name=name) in stdout, f"{command}\n{stdout}\n{stderr}"
