"""A refusal says what was refused and what kind of refusal it is; the web layer alone picks the HTTP answer."""

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_shared.messaging import ConcurrentChange
from dukcapil_shared.refusals import Refusal, RefusalKind
from dukcapil_shared.web import STATUS_OF, install_error_handlers


class NotOnFile(Refusal):
    code = "not_on_file"
    message = "No such person on file."
    message_id = "Tidak ada di data."
    kind = RefusalKind.not_found


def answering(refusal: Refusal) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refuse")
    async def refuse() -> None:
        raise refusal

    return app


async def answer_to(refusal: Refusal) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=answering(refusal)), base_url="http://t") as client:
        return await client.get("/refuse")


def test_every_kind_has_a_status() -> None:
    assert set(STATUS_OF) == set(RefusalKind)


async def test_a_refusal_answers_the_error_body_with_the_status_of_its_kind_and_both_languages() -> None:
    answer = await answer_to(NotOnFile())
    assert answer.status_code == 404
    assert answer.json() == {
        "error": {"code": "not_on_file", "message": "No such person on file. / Tidak ada di data.", "details": []}
    }


async def test_an_instance_overrides_its_class_and_carries_field_extra_keys_and_headers() -> None:
    refusal = NotOnFile(
        "The NIK is not on file.",
        code="nik_unknown",
        field="body.nik",
        kind=RefusalKind.invalid,
        headers={"Retry-After": "5"},
        nik="3602144107900001",
    )
    answer = await answer_to(refusal)
    assert answer.status_code == 422
    assert answer.headers["retry-after"] == "5"
    assert answer.json() == {
        "error": {
            "code": "nik_unknown",
            "message": "The NIK is not on file. / Tidak ada di data.",
            "details": [
                {
                    "field": "body.nik",
                    "code": "nik_unknown",
                    "message": "The NIK is not on file.",
                    "message_id": "Tidak ada di data.",
                }
            ],
            "nik": "3602144107900001",
        }
    }
    assert NotOnFile().kind == RefusalKind.not_found


async def test_a_concurrent_change_is_a_conflict_whose_text_stays_for_the_logs() -> None:
    change = ConcurrentChange("review 42 changed since it was loaded")
    assert str(change) == "review 42 changed since it was loaded"
    answer = await answer_to(change)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "concurrent_update"


def test_a_refusal_is_an_exception_with_its_message() -> None:
    with pytest.raises(Refusal, match="No such person"):
        raise NotOnFile()
