"""A corrected document reaches its holder the way the original did, through the four services as real processes,
the courier simulator and a real broker: a shipment of its own with its own airway bill (or a new wait at the
kecamatan office), history entries that say so, and notices that the old paper is no longer in force."""

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from .requests import KARTU_KELUARGA, PICKUP, variant
from .system import DOCUMENT_OFFICER, RINA, SERVICES, SHIPPING_OFFICER, Client, System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def system(rabbitmq, tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("corrections")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env(),
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


@pytest.fixture
async def client(system: System):  # type: ignore[no-untyped-def]
    client = Client(system)
    yield client
    await client.close()


async def shipments(client: Client, request_id: str) -> list[dict[str, Any]]:
    response = await client.call(
        "GET", "shipping", "/shipments", params={"request_id": request_id}, headers=SHIPPING_OFFICER
    )
    assert response.status_code == 200, response.text
    return response.json()


async def correct(client: Client, request_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A document officer corrects the request's valid document; returns (the old one, the corrected one)."""
    documents = (
        await client.call("GET", "documents", "/documents", params={"request_id": request_id}, headers=DOCUMENT_OFFICER)
    ).json()
    [valid] = [document for document in documents if document["status"] == "valid"]
    response = await client.call(
        "POST",
        "documents",
        f"/documents/{valid['id']}/corrections",
        json={"details": {"kk_number": "3602141202100006"}, "reason": "Nomor KK salah tulis", "approved_by": "Kabid"},
        headers=DOCUMENT_OFFICER,
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    return answer["superseded"], answer["issued"]


async def wait_until(client: Client, request_id: str, condition: Any, timeout: float = 60) -> dict[str, Any]:
    """Wait until `condition(request)` holds for the request as staff see it."""
    deadline = time.monotonic() + timeout
    while True:
        request = await client.request(request_id)
        if condition(request):
            return request
        if time.monotonic() > deadline:
            raise AssertionError(f"{request_id} never got there: {request['status']} {request['history']}")
        await asyncio.sleep(0.2)


def notes_after(request: dict[str, Any], event_type: str, containing: str) -> list[str]:
    return [e["note"] for e in request["history"] if e["event_type"] == event_type and containing in e["note"]]


async def notice_kinds(client: Client, request_id: str) -> set[str]:
    response = await client.call("GET", "intake", f"/requests/{request_id}/notifications", headers=RINA)
    assert response.status_code == 200, response.text
    return {notice["kind"] for notice in response.json()}


async def test_a_corrected_document_is_delivered_by_courier_with_its_own_airway_bill(client: Client) -> None:
    request = await client.submit(KARTU_KELUARGA)
    await client.approve(request["id"])
    await client.wait_status(request["id"], "delivered")

    old, new = await correct(client, request["id"])
    final = await wait_until(
        client,
        request["id"],
        lambda r: r["status"] == "delivered" and notes_after(r, "shipment.delivered.v1", "Dokumen perbaikan"),
    )

    first, second = sorted(await shipments(client, request["id"]), key=lambda shipment: shipment["created_at"])
    assert (first["document_number"], second["document_number"]) == (old["number"], new["number"])
    assert second["replaces_document_number"] == old["number"]
    assert second["status"] == "delivered" and second["airway_bill"] not in (None, first["airway_bill"])
    [shipped] = notes_after(final, "shipment.created.v1", "Dokumen perbaikan")
    assert second["airway_bill"] in shipped and f"Serahkan dokumen lama {old['number']}" in shipped
    assert notes_after(final, "document.issued.v1", f"Dokumen perbaikan terbit dengan nomor {new['number']}")
    assert final["history"][-1]["event_type"] == "shipment.delivered.v1"
    followed = await client.follow(request)
    assert followed["document"]["number"] == new["number"]
    kinds = await notice_kinds(client, request["id"])
    assert {"shipped", "delivered", "document_corrected", "correction_shipped"} <= kinds


async def test_a_corrected_document_waits_at_the_office_and_is_collected_again(client: Client) -> None:
    request = await client.submit(variant(KARTU_KELUARGA, delivery={**PICKUP, "phone": "081234567890"}))
    await client.approve(request["id"])
    await client.wait_status(request["id"], "ready_for_pickup")
    [held] = await shipments(client, request["id"])
    collected = await client.call(
        "POST",
        "shipping",
        f"/shipments/{held['id']}/collected",
        json={"collector_name": "Ahmad Fauzi", "collector_nik": "3602141205850003"},
        headers=SHIPPING_OFFICER,
    )
    assert collected.status_code == 200, collected.text
    await client.wait_status(request["id"], "collected")

    old, new = await correct(client, request["id"])
    waiting = await wait_until(client, request["id"], lambda r: r["status"] == "ready_for_pickup")
    [note] = notes_after(waiting, "shipment.ready_for_pickup.v1", "Dokumen perbaikan")
    assert f"serahkan dokumen lama {old['number']}" in note and "Dokumen dapat diambil di Kantor Kecamatan" in note
    [_, again] = sorted(await shipments(client, request["id"]), key=lambda shipment: shipment["created_at"])
    assert (again["status"], again["document_number"], again["airway_bill"]) == (
        "ready_for_pickup",
        new["number"],
        None,
    )
    assert {"document_corrected", "correction_ready_for_pickup"} <= await notice_kinds(client, request["id"])
