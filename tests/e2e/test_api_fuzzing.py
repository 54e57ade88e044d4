"""Schemathesis against every service's OpenAPI document, on the running system (real processes, SQLite,
RabbitMQ): generated requests, valid and not, must never get a 5xx, nor an answer its operation's schema does
not describe (status code, content type, body).

Each operation is called as someone allowed through its door (the access table in test_access_matrix.py), so
the generated input reaches the handlers instead of stopping at a 401: a citizen where citizens are served,
else a member of staff whose role holds the scope.
"""

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dukcapil_shared.auth.roles import Role
from dukcapil_testing import staff_headers

from ..test_access_matrix import ALLOWED, CITIZEN
from .system import SERVICES, System

pytestmark = pytest.mark.e2e

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Who calls an operation that citizens cannot: the first of these the table lets through.
PREFERENCE = [Role.SUPERVISOR, Role.REVIEWER, Role.DOCUMENT_OFFICER, Role.SHIPPING_OFFICER, Role.KECAMATAN_OPERATOR]
EXAMPLES = 25  # per operation: about two minutes for the four services on a 2-core machine


@pytest.fixture(scope="module")
async def fuzzed_system(rabbitmq, tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("fuzzing")
    databases = {name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES}
    # Fuzzing calls the citizens' endpoints far more often than a citizen would: lift their rate limits.
    limits = {f"{name.upper()}_CITIZEN_RATE_LIMIT": "100000/minute" for name in SERVICES}
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls=databases,
        extra_env=rabbitmq.service_env() | limits | {"INTAKE_SIGN_IN_RATE_LIMIT": "100000/minute"},
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


def caller(service: str, method: str, path: str) -> dict[str, str]:
    allowed = ALLOWED[(service, method, path)]
    if CITIZEN in allowed:
        return {}
    role = next((role for role in [*PREFERENCE, Role.ADMIN] if role in allowed), None)
    assert role is not None, f"nobody may call {method} {path} at {service}"
    return staff_headers(role, username=f"fuzz.{role.value}", reason="schema fuzzing")


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> Any:
    """A Hypothesis test that sends `operation` generated input and validates each answer against its schema."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def call(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)

    return call


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_gets_a_server_error_or_an_undocumented_answer(
    fuzzed_system: System, service: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(fuzzed_system.url(service) + "/openapi.json")
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9, f"{service}: only {len(operations)} operations in its OpenAPI document"
    for operation in operations:
        headers = caller(service, operation.method.upper(), operation.path)
        try:
            fuzz(operation, mode, headers)()
        except Unsatisfiable:  # an operation without parameters or body has no invalid input to send
            assert mode is GenerationMode.NEGATIVE, f"{operation.method.upper()} {operation.path}: no input at all"
        except Exception as failure:  # every operation is tried; the report lists all that failed
            failures[f"{operation.method.upper()} {operation.path}"] = str(failure)[:3000]
    assert not failures, "\n\n".join(f"{name}:\n{failure}" for name, failure in failures.items())
