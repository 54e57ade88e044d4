"""Each service's OpenAPI document is valid OpenAPI 3.1, and its security says the truth: who may call each
operation, as the access table (test_access_matrix.py) checks the services enforce it."""

from typing import Any

import pytest
from fastapi import FastAPI
from openapi_spec_validator import validate

from .service_apps import SERVICES, build_service_app
from .test_access_matrix import ALLOWED, CITIZEN

# Citizens act on their own request with its access code; an operator with their token; nobody with neither.
WITH_ACCESS_CODE = {
    "/requests/{request_id}/attachments",
    "/requests/{request_id}/cancel",
    "/requests/{request_id}/resubmit",
}


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("openapi")
    apps: dict[str, FastAPI] = {service: build_service_app(service, workdir) for service in SERVICES}
    return {service: app.openapi() for service, app in apps.items()}


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(documents: dict[str, dict[str, Any]], service: str) -> None:
    validate(documents[service])


@pytest.mark.parametrize("service", SERVICES)
def test_each_operation_declares_the_credentials_it_takes(documents: dict[str, dict[str, Any]], service: str) -> None:
    document = documents[service]
    schemes = document["components"].get("securitySchemes", {})
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            who = ALLOWED[(service, method.upper(), path)]
            requirements = operation.get("security", [])
            named = {name for requirement in requirements for name in requirement}
            assert named <= set(schemes), f"{method} {path} names an undeclared scheme"
            anonymous = not requirements or {} in requirements
            where = f"{service} {method.upper()} {path}"
            if path in WITH_ACCESS_CODE:
                assert named == {"staffToken", "accessCode"} and not anonymous, where
            elif path == "/documents/{document_id}/pdf":
                assert named == {"staffToken", "downloadGrant"} and not anonymous, where
            elif CITIZEN in who:
                assert anonymous, f"{where} is open to citizens but says it needs credentials"
            else:
                assert named == {"staffToken"} and not anonymous, f"{where} is for staff but does not say so"
