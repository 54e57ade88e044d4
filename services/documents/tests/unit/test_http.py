import uuid

import httpx
from fastapi import FastAPI

from dukcapil_documents.entrypoints import http
from dukcapil_shared.web import install_error_handlers

from ..fakes import FakeDocumentsUnitOfWork, FakeStorage
from .test_handlers import BASE_URL, approval, deliver


async def client_with_one_document() -> tuple[httpx.AsyncClient, FakeDocumentsUnitOfWork, FakeStorage]:
    uow, storage = FakeDocumentsUnitOfWork(), FakeStorage()
    await deliver(uow, approval("biodata_wni"), storage)
    app = FastAPI()
    install_error_handlers(app)
    app.state.unit_of_work = lambda: uow
    app.state.storage = storage
    app.state.public_base_url = BASE_URL
    http.install(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test"), uow, storage


async def test_documents_are_found_by_request_and_by_id_and_served_as_pdf() -> None:
    client, uow, storage = await client_with_one_document()
    [document] = uow.issued
    async with client:
        listed = (await client.get("/documents", params={"request_id": str(document.request_id)})).json()
        shown = (await client.get(f"/documents/{document.id}")).json()
        pdf = await client.get(f"/documents/{document.id}/pdf")
        none = (await client.get("/documents", params={"request_id": str(uuid.uuid4())})).json()

    assert listed == [shown] and none == []
    assert shown["number"] == document.number and shown["type"] == "biodata_wni"
    assert shown["title"] == "BIODATA PENDUDUK WNI"
    assert shown["verification_url"] == f"{BASE_URL}/verify/{document.verification_token}"
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content == storage.files[document.storage_key]
    assert document.number.replace("/", "-") in pdf.headers["content-disposition"]


async def test_unknown_documents_and_codes_get_a_machine_readable_404() -> None:
    client, _, _ = await client_with_one_document()
    async with client:
        missing = await client.get(f"/documents/{uuid.uuid4()}")
        missing_pdf = await client.get(f"/documents/{uuid.uuid4()}/pdf")
        forged = await client.get("/verify/forged-token")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "document_not_found")
    assert (missing_pdf.status_code, missing_pdf.json()["error"]["code"]) == (404, "document_not_found")
    assert (forged.status_code, forged.json()["error"]["code"]) == (404, "unknown_document")


async def test_the_public_verification_shows_the_holder_masked() -> None:
    client, uow, _ = await client_with_one_document()
    [document] = uow.issued
    async with client:
        body = (await client.get(f"/verify/{document.verification_token}")).json()
    assert body == {
        "genuine": True,
        "status": "valid",
        "document_number": document.number,
        "document_type": "biodata_wni",
        "document_title": "BIODATA PENDUDUK WNI",
        "issued_at": body["issued_at"],
        "holder_name_masked": "S*** A*****",
        "nik_masked": "360214******0001",
    }
