"""Fixtures for the cluster tests: a three-node RabbitMQ cluster of the module's own (tools/testing), provisioned at
boot as compose provisions its broker, and the whole system running against it."""

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dukcapil_shared.messaging.access import SERVICES, AccessPlan
from dukcapil_shared.messaging.provision import ServiceCredentials, definitions
from dukcapil_testing.rabbitmq_cluster import rabbitmq_cluster  # noqa: F401 (the fixture)

VHOST = "dukcapil"
USER_PREFIX = "dukcapil-cluster-"
ACCESS_PLAN = Path(__file__).parents[2] / "deploy" / "rabbitmq" / "access.json"


@pytest.fixture(scope="module")
def broker_passwords() -> dict[str, str]:
    return {service: secrets.token_urlsafe(16) for service in [*SERVICES, "admin"]}


@pytest.fixture(scope="module")
def cluster_definitions(broker_passwords: dict[str, str]) -> Mapping[str, Any]:
    """Each service's user with the permissions of deploy/rabbitmq/access.json, an administrator, the shared
    exchanges: what compose's setup makes, loaded by every node at boot."""
    return definitions(
        AccessPlan.parse(ACCESS_PLAN.read_text(encoding="utf-8")),
        vhost=VHOST,
        credentials={
            service: ServiceCredentials(f"{USER_PREFIX}{service}", broker_passwords[service]) for service in SERVICES
        },
        administrator=ServiceCredentials(f"{USER_PREFIX}admin", broker_passwords["admin"]),
    )


@pytest.fixture(scope="module")
def service_broker_env(broker_passwords: dict[str, str]) -> dict[str, str]:
    """What every service process needs to sign in as its own broker user on the cluster."""
    return {"BROKER_USER_PREFIX": USER_PREFIX} | {
        f"{service.upper()}_BROKER_PASSWORD": broker_passwords[service] for service in SERVICES
    }
