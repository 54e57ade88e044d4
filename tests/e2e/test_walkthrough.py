"""The README's walkthrough runs as written: its shell block, pasted into bash against a running system (the
addresses `make run` prints replaced by this system's), goes from submission to delivery without an error. Where
the reader waits (`sleep`), the test waits for what the reader waits for, so the verdict does not depend on the
machine's speed."""

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dukcapil_shared.messaging.access import SERVICES

from .system import SHIPPING_OFFICER, Client, System

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PORTS = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}
# What the reader waits for at each `sleep` of the walkthrough, in order: a condition on the request as its holder
# follows it.
WAITS = [
    "follow['document'] is not None",
    "follow['status'] == 'delivered'",
]


# What the reader waits for at the `sleep` of the correction that follows it (docs/walkthroughs.md).
CORRECTION_WAITS = [
    "follow['status'] == 'delivered' and 'Dokumen perbaikan telah diterima' in str(follow['history'])",
]
SINKS = "http://127.0.0.1:8011"
"""The development message sinks, which the test's system does not run (test_corrections.py checks the notices)."""


def walkthrough() -> str:
    return _first_shell_block(ROOT / "README.md", "## Walk one request from submission to delivery")


def correction() -> str:
    return _first_shell_block(ROOT / "docs" / "walkthroughs.md", "## A corrected document after delivery")


def _first_shell_block(path: Path, heading: str) -> str:
    section = path.read_text(encoding="utf-8").split(heading, 1)[1]
    return section.split("```sh\n", 1)[1].split("\n```", 1)[0]


@pytest.fixture(scope="module")
async def system(rabbitmq, tmp_path_factory) -> AsyncIterator[System]:  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("walkthrough")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        # The walkthrough signs in with the development accounts `make run` makes.
        extra_env=rabbitmq.service_env() | {"INTAKE_DEVELOPMENT_ACCOUNTS": "true"},
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


def test_the_walkthrough_waits_where_the_test_knows_what_for() -> None:
    assert len(re.findall(r"^sleep \d+$", walkthrough(), flags=re.M)) == len(WAITS), "say what each sleep waits for"
    assert len(re.findall(r"^sleep \d+$", correction(), flags=re.M)) == len(CORRECTION_WAITS)


def as_run_here(system: System, script: str, waits: list[str]) -> str:
    """The script with this system's addresses, and each `sleep` replaced by a wait for what the reader waits for."""
    for service, port in PORTS.items():
        script = script.replace(f"http://127.0.0.1:{port}", system.url(service))
    pending = iter(waits)
    return re.sub(r"^sleep \d+$", lambda _: f"wait_until {json.dumps(next(pending))}", script, flags=re.M)


async def test_the_walkthrough_runs_as_written(system: System, tmp_path: Path) -> None:
    stdout = await run(system, as_run_here(system, walkthrough(), WAITS), tmp_path)
    assert "%PDF-" in stdout, "the holder downloaded the PDF"
    assert "Signature is Valid." in stdout, "pdfsig checked the signature inside it"
    assert '"genuine": true' in stdout, "the office recognised the very file"
    request = json.loads((tmp_path / "request.json").read_text())
    client = Client(system)
    try:
        final = await client.follow(request)
    finally:
        await client.close()
    assert final["status"] == "delivered" and final["history"][-1]["event_type"] == "shipment.delivered.v1"


async def test_the_correction_after_it_runs_as_written(system: System, tmp_path: Path) -> None:
    """docs/walkthroughs.md's correction, in the same shell right after the README's walk (its variables)."""
    corrected = "\n".join(line for line in correction().splitlines() if SINKS not in line)
    script = as_run_here(system, walkthrough(), WAITS) + "\n" + as_run_here(system, corrected, CORRECTION_WAITS)
    stdout = await run(system, script, tmp_path)
    assert '"superseded"' in stdout and '"issued"' in stdout, "the officer corrected the document"
    request = json.loads((tmp_path / "request.json").read_text())
    client = Client(system)
    try:
        final = await client.follow(request)
        shipments = (
            await client.call(
                "GET", "shipping", "/shipments", params={"request_id": request["id"]}, headers=SHIPPING_OFFICER
            )
        ).json()
    finally:
        await client.close()
    assert final["status"] == "delivered" and final["history"][-1]["note"].startswith("Dokumen perbaikan")
    first, second = sorted(shipments, key=lambda shipment: shipment["created_at"])
    assert second["document_number"] == final["document"]["number"] != first["document_number"]
    assert second["airway_bill"] and second["airway_bill"] != first["airway_bill"]
    assert f"{second['document_number']} {second['airway_bill']} delivered" in stdout


async def run(system: System, script: str, tmp_path: Path) -> str:
    """Runs the script in bash as a reader pastes it, in `tmp_path`; answers what it printed."""
    intake = system.url("intake")
    helper = (
        # Polls the request as its holder sees it until the condition holds (a minute at most).
        "wait_until() {\n"
        f'  "{sys.executable}" - "$1" "{intake}" <<\'PY\'\n'
        "import json, sys, time, urllib.request\n"
        "condition, intake = sys.argv[1], sys.argv[2]\n"
        "request = json.load(open('request.json'))\n"
        "body = json.dumps({'number': request['number'], 'access_code': request['access_code']}).encode()\n"
        "deadline = time.monotonic() + 60\n"
        "while True:\n"
        "    answer = urllib.request.urlopen(urllib.request.Request(intake + '/requests/follow', data=body,\n"
        "        headers={'Content-Type': 'application/json'}), timeout=10)\n"
        "    follow = json.load(answer)\n"
        "    if eval(condition, {'follow': follow}):\n"
        "        break\n"
        "    if time.monotonic() > deadline:\n"
        "        sys.exit(f'waited a minute for {condition}: {follow[\"status\"]}')\n"
        "    time.sleep(0.3)\n"
        "PY\n"
        "}\n"
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        helper + script,
        cwd=tmp_path,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    stdout, stderr = out.decode(), err.decode()
    assert process.returncode == 0, f"{stdout[-3000:]}\n{stderr[-3000:]}"
    return stdout
