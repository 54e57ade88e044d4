"""The event catalogue: each service's committed AsyncAPI document is what its code generates and what it serves,
nothing under it publishes to the broker, and the event table in docs/architecture.md says the same as the documents."""

import importlib
import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_shared.catalogue import ASYNCAPI_PATH
from dukcapil_shared.catalogue.files import committed_document, document_path, generated_document
from dukcapil_shared.contracts import event_class
from dukcapil_shared.contracts.public import PUBLIC_EVENTS, public_event_class

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("intake", "review", "documents", "shipping")


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Building an app configures logging for good, binding it to this test's captured output.
    for service in SERVICES:
        monkeypatch.setattr(importlib.import_module(f"dukcapil_{service}.bootstrap"), "configure_logging", _quiet)


def _quiet(*_args: object, **_kwargs: object) -> None:
    pass


def build(service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.chdir(tmp_path)  # the default settings' var/ directory lands here, never in the repository
    return importlib.import_module(f"dukcapil_{service}.bootstrap").build_app()


def committed(service: str) -> dict:  # type: ignore[type-arg]
    text = committed_document(ROOT, service)
    assert text is not None, f"{document_path(ROOT, service)} is missing: run `make asyncapi` and commit it"
    return json.loads(text)


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_document_is_what_the_code_generates(service: str) -> None:
    assert committed_document(ROOT, service) == generated_document(service), (
        f"{document_path(ROOT, service).relative_to(ROOT)} is out of date with the code: run `make asyncapi` and "
        "commit the result"
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_serves_its_document_read_only(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(service, tmp_path, monkeypatch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        served = await client.get(ASYNCAPI_PATH)
        assert served.status_code == 200 and served.json() == committed(service)
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert (await client.request(method, ASYNCAPI_PATH, json={})).status_code == 405
        # FastStream's "try it" publishes the posted message to the real broker; it must answer nowhere.
        for path in ("/asyncapi/try", "/asyncapi", "/asyncapi.json/try", "/docs/asyncapi/try"):
            response = await client.post(path, json={"channelName": "request.submitted.v1", "message": {}})
            assert response.status_code in (404, 405), f"{service}: POST {path} answered {response.status_code}"

    paths = app.openapi()["paths"]
    assert {path: set(paths[path]) for path in paths if "asyncapi" in path} == {ASYNCAPI_PATH: {"get"}}
    assert not [path for path in paths if "try" in path.split("/")]


@pytest.mark.parametrize("service", SERVICES)
def test_every_document_describes_consumed_and_published_events_with_their_schemas(service: str) -> None:
    document = committed(service)
    schemas = document["components"]["schemas"]
    for operation in document["operations"].values():
        [routing_key] = operation["bindings"]["amqp"]["cc"]
        if routing_key.endswith(AGENCY_SUFFIX):
            _check_public_event(schemas, routing_key.removesuffix(AGENCY_SUFFIX))
            continue
        event_type = event_class(routing_key)
        assert event_type is not None, routing_key
        envelope = schemas[f"{event_type.__name__}V{event_type.version}Envelope"]
        assert envelope["properties"]["type"]["const"] == routing_key
        event = schemas[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        assert event["properties"]["request_id"]["description"], "field descriptions come from the contracts"


AGENCY_SUFFIX = ".*.*.*"  # the kecamatan's code ends a public event's routing key


def _check_public_event(schemas: dict, type_name: str) -> None:  # type: ignore[type-arg]
    public = public_event_class(type_name)
    assert public is not None, type_name
    envelope = schemas[f"Public{public.__name__}V{public.version}Envelope"]
    assert envelope["properties"]["type"]["const"] == type_name
    event = schemas[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
    assert event["properties"]["document_number"]["description"], "field descriptions come from the contracts"


def test_intake_documents_the_events_for_agencies_on_both_public_exchanges() -> None:
    document = committed("intake")
    public_channels = {name for name in document["channels"] if name.startswith("dukcapil.public.")}
    assert public_channels == {
        f"{exchange}.{event.type_name()}"
        for exchange in ("dukcapil.public", "dukcapil.public.identified")
        for event in PUBLIC_EVENTS
    }
    for service in ("review", "documents", "shipping"):
        assert not [name for name in committed(service)["channels"] if name.startswith("dukcapil.public.")]
    agencies = (ROOT / "docs" / "agencies.md").read_text(encoding="utf-8")
    for event in PUBLIC_EVENTS:
        assert f"| `{event.type_name()}` |" in agencies, f"the agencies' event table lacks {event.type_name()}"


def documented_event_table() -> dict[str, dict[str, object]]:
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = architecture.split("## Events", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|") and not line.startswith("|---")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header == ["event", "routing key", "producer", "consumers", "carries"], header
    table = {}
    for row in rows[1:]:
        event, routing_key, producer, consumers, carries = (cell.strip() for cell in row.strip("|").split("|"))
        table[routing_key.strip("`")] = {
            "event": event.strip("`"),
            "producers": _services_named(producer),
            "consumers": _services_named(consumers),
            "carries": carries,
        }
    return table


def _services_named(cell: str) -> set[str]:
    if cell.startswith("every service"):
        return set(SERVICES)
    return {word for word in re.findall(r"[a-z]+", cell) if word in SERVICES}


def test_the_documented_event_table_says_what_the_documents_say() -> None:
    producers: dict[str, set[str]] = {}
    consumers: dict[str, set[str]] = {}
    for service in SERVICES:
        for operation in committed(service)["operations"].values():
            [routing_key] = operation["bindings"]["amqp"]["cc"]
            if routing_key.endswith(AGENCY_SUFFIX):
                continue  # the agencies' events have their own table, in docs/agencies.md
            side = producers if operation["action"] == "send" else consumers
            side.setdefault(routing_key, set()).add(service)

    table = documented_event_table()
    assert set(table) == set(producers) | set(consumers), "every event in a document has a row, and no other"
    for routing_key, row in table.items():
        assert row["event"] == event_class(routing_key).__name__, routing_key  # type: ignore[union-attr]
        assert row["producers"] == producers.get(routing_key, set()), f"{routing_key}: producer"
        assert row["consumers"] == consumers.get(routing_key, set()), f"{routing_key}: consumers"
        assert row["carries"], f"{routing_key}: say what it carries"
