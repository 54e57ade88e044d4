"""The whole system as real processes: four services, the courier simulator and the population register simulator
(its default synthetic residents: pick them with `dukcapil_devtools.register_simulator.population.generate()`), on
one broker vhost; with `web=True`, the portal (services/web) in front of them too.

Extra replicas of a service (`start_replica`) run the same module on a port of their own, with the same
database and vhost. Every process is started with a parent-death signal, so that none outlives the test run
even if pytest itself is killed.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from dukcapil_shared.auth.roles import Role
from dukcapil_testing import auth_env_for_tests, staff_headers

SERVICES = ("intake", "review", "documents", "shipping")
MODULES = {name: f"dukcapil_{name}" for name in SERVICES} | {
    "simulator": "dukcapil_devtools.courier_simulator",
    "register": "dukcapil_devtools.register_simulator",
}
SIMULATORS = frozenset({"simulator", "register"})
OPTIONAL_MODULES = {"web": "dukcapil_web"}
"""Started by `start_all` only when asked for (System(web=True)): most tests drive the APIs themselves."""

# Short delays so that a walkthrough takes seconds; the values mean what they mean in production.
FAST = {
    "RETRY_DELAYS_MS": "[200, 500, 1000, 2000, 4000]",
    "OUTBOX_POLL_INTERVAL": "0.2",
    "GRACEFUL_TIMEOUT": "10",
}


PLENTY = {
    "INTAKE_SUBMISSION_RATE_LIMIT": "1000000/hour",
    "INTAKE_SUBMISSIONS_PER_APPLICANT": "1000000/day",
    "INTAKE_UPLOAD_RATE_LIMIT": "1000000/hour",
    "INTAKE_UPLOADS_PER_REQUEST": "1000000/day",
    "INTAKE_BOOKING_RATE_LIMIT": "1000000/hour",
    "INTAKE_NOTICES_PER_RECIPIENT": "1000000/day",
    "DOCUMENTS_DOWNLOADS_PER_DOCUMENT": "1000000/hour",
    "WEB_FORM_RATE_LIMIT": "1000000/minute",
    "WEB_FOLLOW_RATE_LIMIT": "1000000/minute",
} | {f"{service.upper()}_CITIZEN_RATE_LIMIT": "1000000/minute" for service in SERVICES}


# `python -m <module>`, after asking Linux to SIGKILL the process when its parent dies (PR_SET_PDEATHSIG).
_LAUNCH = (
    "import ctypes, runpy, signal\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
)


def service_of(name: str) -> str:
    """`review#2` (a replica) -> `review`."""
    return name.split("#", 1)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class System:
    workdir: Path
    amqp_url: str
    database_urls: dict[str, str]
    extra_env: dict[str, str] = field(default_factory=dict)
    web: bool = False
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in MODULES | OPTIONAL_MODULES})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def replicas(self, service: str) -> list[str]:
        """The names of the running processes of `service`: the first one and its extra replicas."""
        return [name for name in self.processes if service_of(name) == service]

    def env(self, name: str) -> dict[str, str]:
        # The services must accept the tests' development tokens, whatever this shell has set.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.endswith("_DATABASE_URL") and not key.startswith("AUTH_") and key != "ENVIRONMENT"
        }
        env["ENVIRONMENT"] = "development"
        env |= auth_env_for_tests()
        env["AMQP_URL"] = self.amqp_url
        env["SIMULATOR_PORT"] = str(self.ports["simulator"])
        env["SIMULATOR_STEP_SECONDS"] = "0.3"
        env["SIMULATOR_DATA_DIR"] = str(self.workdir / "courier")
        env["REGISTER_SIM_PORT"] = str(self.ports["register"])
        for service in SERVICES:
            prefix = service.upper()
            env[f"{prefix}_PORT"] = str(self.ports[service])
            env[f"{prefix}_DATABASE_URL"] = self.database_urls[service]
            env[f"{prefix}_LOG_LEVEL"] = "INFO"
            env |= {f"{prefix}_{key}": value for key, value in FAST.items()}
        # Tests mint their own tokens: no need to hash the development accounts' passwords at every start.
        env["INTAKE_DEVELOPMENT_ACCOUNTS"] = "false"
        env["DOCUMENTS_STORAGE_DIR"] = str(self.workdir / "documents")
        env["DOCUMENTS_PUBLIC_BASE_URL"] = self.url("documents")
        env["SHIPPING_COURIER_URL"] = self.url("simulator")
        env["REVIEW_REGISTER_URL"] = self.url("register")
        env["INTAKE_REGISTER_URL"] = self.url("register")
        env["SHIPPING_TRACKING_INTERVAL"] = "0.3"
        env["INTAKE_DOCUMENTS_URL"] = self.url("documents")
        env["WEB_PORT"] = str(self.ports["web"])
        env["WEB_INTAKE_URL"] = self.url("intake")
        env["WEB_DOCUMENTS_URL"] = self.url("documents")
        env["WEB_REVIEW_URL"] = self.url("review")
        env["WEB_SHIPPING_URL"] = self.url("shipping")
        env["WEB_LOG_LEVEL"] = "INFO"
        # Every test client calls from 127.0.0.1 for a handful of synthetic people: the limits per address and per
        # person are for the tests that check them (tests/security), which set their own.
        env |= PLENTY
        env = env | self.extra_env
        if name != service_of(name):  # a replica listens on a port of its own
            env[f"{service_of(name).upper()}_PORT"] = str(self.ports[name])
        return env

    def start(self, name: str) -> None:
        with open(self.workdir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-c", _LAUNCH.format(module=(MODULES | OPTIONAL_MODULES)[service_of(name)])],
                cwd=self.workdir,
                env=self.env(name),
                stdout=log,
                stderr=log,
            )

    def start_replica(self, service: str, index: int) -> str:
        """Start replica `index` (2, 3, ...) of a service: same database and vhost, another port."""
        name = f"{service}#{index}"
        self.ports.setdefault(name, free_port())
        self.start(name)
        return name

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        process = self.processes.pop(name)
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def kill(self, name: str) -> int:
        """kill -9: no chance to finish anything."""
        return self.stop(name, signal.SIGKILL)

    async def wait_ready(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        path = "/healthz" if name in SIMULATORS else "/readyz"
        async with httpx.AsyncClient(base_url=self.url(name), timeout=2) as client:
            while True:
                process = self.processes[name]
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log_tail(name)}")
                try:
                    if (await client.get(path)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout}s:\n{self.log_tail(name)}")
                await asyncio.sleep(0.2)

    async def start_all(self) -> None:
        names = [*MODULES, *(OPTIONAL_MODULES if self.web else ())]
        for name in names:
            self.start(name)
        # Five processes migrating and connecting at once on two cores: give them time.
        await asyncio.gather(*(self.wait_ready(name, timeout=120) for name in names))

    def stop_all(self, timeout: float = 30) -> None:
        """SIGTERM to every process at once, then wait for each; whatever is still running is killed."""
        processes, self.processes = self.processes, {}
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def as_staff(role: Role, username: str | None = None) -> dict[str, str]:
    """Headers of a member of staff: a token the services accept (signed with the tests' key), and a reason."""
    return staff_headers(role, username=username, reason="end-to-end test")


RINA = as_staff(Role.REVIEWER, "rina")
BUDI = as_staff(Role.REVIEWER, "budi")
DOCUMENT_OFFICER = as_staff(Role.DOCUMENT_OFFICER, "dewi")
SHIPPING_OFFICER = as_staff(Role.SHIPPING_OFFICER, "yusuf")


def holder(request: dict[str, Any]) -> dict[str, str]:
    """The header a citizen sends to act on their request: the access code its submission answered."""
    return {"X-Access-Code": request["access_code"]}


class Client:
    """The HTTP calls a citizen, a reviewer and an operator make, with waiting for the asynchronous parts."""

    def __init__(self, system: System) -> None:
        self.system = system
        # uvicorn closes a connection idle for 5 s: let idle ones go first, so that none is reused as it closes.
        self.http = httpx.AsyncClient(timeout=10, limits=httpx.Limits(keepalive_expiry=1.0))

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, service: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, self.system.url(service) + path, **kwargs)

    async def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.call("POST", "intake", "/requests", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def follow(self, request: dict[str, Any]) -> dict[str, Any]:
        """The citizen's view: POST /requests/follow with the number and the access code from the submission."""
        body = {"number": request["number"], "access_code": request["access_code"]}
        response = await self.call("POST", "intake", "/requests/follow", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    async def request(self, request_id: str) -> dict[str, Any]:
        response = await self.call("GET", "intake", f"/requests/{request_id}", headers=RINA)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_status(self, request_id: str, *statuses: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            request = await self.request(request_id)
            if request["status"] in statuses:
                return request
            if time.monotonic() > deadline:
                raise AssertionError(f"{request_id} is {request['status']}, not {statuses}: {request['history']}")
            await asyncio.sleep(0.2)

    async def wait_event(self, request_id: str, event_type: str, timeout: float = 60) -> dict[str, Any]:
        """Events from different stages may arrive in any order: wait until this one is in the history."""
        deadline = time.monotonic() + timeout
        while True:
            request = await self.request(request_id)
            if any(entry["event_type"] == event_type for entry in request["history"]):
                return request
            if time.monotonic() > deadline:
                raise AssertionError(f"{request_id} has no {event_type}: {request['history']}")
            await asyncio.sleep(0.2)

    async def wait_review(self, request_id: str, status: str = "pending", timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.call("GET", "review", f"/reviews/{request_id}", headers=RINA)
            if response.status_code == 200 and response.json()["status"] == status:
                return response.json()
            if time.monotonic() > deadline:
                raise AssertionError(f"review of {request_id}: {response.status_code} {response.text}")
            await asyncio.sleep(0.2)

    async def wait_review_until(
        self, request_id: str, condition: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.call("GET", "review", f"/reviews/{request_id}", headers=RINA)
            if response.status_code == 200 and condition(response.json()):
                return response.json()
            if time.monotonic() > deadline:
                raise AssertionError(f"review of {request_id} never got there: {response.text}")
            await asyncio.sleep(0.2)

    async def approve(self, request_id: str) -> None:
        await self.wait_review(request_id)
        response = await self.call("POST", "review", f"/reviews/{request_id}/approve", json={}, headers=RINA)
        assert response.status_code == 200, response.text
