"""Test support: fakes, development tokens and helpers shared by the services' tests; never installed in an image."""

from dukcapil_testing.auth import (
    TEST_SIGNING_KEY,
    NoEndedSessions,
    auth_env_for_tests,
    development_token,
    download_grants_for_tests,
    grant_verifier_for_tests,
    install_test_auth,
    staff_headers,
)
from dukcapil_testing.dead_letters import LAST_FAILURE_AT, consumer_dead_letter, dead_letter_app, dead_letter_desk
from dukcapil_testing.fakes import (
    FakeDeadLetterRepository,
    FakeInbox,
    FakeOpsUnitOfWork,
    FakeOutbox,
    FakeRepublisher,
    FakeUnitOfWork,
    InMemoryEventBus,
    UndeclaredEvent,
)
from dukcapil_testing.ops_cli import run_ops_cli
from dukcapil_testing.pdf import minimal_pdf

__all__ = [
    "LAST_FAILURE_AT",
    "TEST_SIGNING_KEY",
    "FakeDeadLetterRepository",
    "FakeInbox",
    "FakeOpsUnitOfWork",
    "FakeOutbox",
    "FakeRepublisher",
    "FakeUnitOfWork",
    "InMemoryEventBus",
    "NoEndedSessions",
    "UndeclaredEvent",
    "auth_env_for_tests",
    "consumer_dead_letter",
    "dead_letter_app",
    "dead_letter_desk",
    "development_token",
    "download_grants_for_tests",
    "grant_verifier_for_tests",
    "install_test_auth",
    "minimal_pdf",
    "run_ops_cli",
    "staff_headers",
]
