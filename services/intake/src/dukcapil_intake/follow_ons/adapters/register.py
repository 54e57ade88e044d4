"""The population register over HTTP, in SIAK's read-only lookup shape (the register simulator speaks the same):
GET /api/v1/penduduk/{nik} and /api/v1/keluarga/{no_kk} with the key in X-API-Key; 404 for a number it does not
know. Its answers are read through models, so that a malformed one is the register's fault (ask later), never ours."""

from datetime import date
from typing import Literal, TypeVar

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from dukcapil_intake.follow_ons.domain.register import FamilyMember, RegisteredFamily, RegisteredPerson
from dukcapil_intake.follow_ons.service_layer.register import Register, RegisterUnavailable

log = structlog.get_logger(__name__)
M = TypeVar("M", bound=BaseModel)


class _Penduduk(BaseModel):
    nik: str
    nama: str
    tanggal_lahir: date | None = None
    jenis_kelamin: Literal["L", "P"] | None = None
    status_hidup: Literal["HIDUP", "MATI"]
    no_kk: str | None = None
    hubungan_keluarga: str | None = None
    kode_kecamatan: str | None = None


class _Anggota(BaseModel):
    nik: str
    nama: str
    tanggal_lahir: date | None = None
    jenis_kelamin: Literal["L", "P"] | None = None
    hubungan_keluarga: str
    status_hidup: Literal["HIDUP", "MATI"] = "HIDUP"


class _Keluarga(BaseModel):
    no_kk: str
    alamat: str = ""
    desa: str | None = None
    kode_kecamatan: str | None = None
    kepala_keluarga_nik: str | None = None
    anggota: list[_Anggota]


class HttpRegister(Register):
    def __init__(self, client: httpx.AsyncClient, *, url: str, api_key: str) -> None:
        self._client = client
        self._url = url.rstrip("/")
        self._headers = {"X-API-Key": api_key}

    async def person(self, nik: str) -> RegisteredPerson | None:
        found = await self._get(f"/api/v1/penduduk/{nik}", _Penduduk, what="person")
        if found is None:
            return None
        return RegisteredPerson(
            nik=found.nik,
            name=found.nama,
            birth_date=found.tanggal_lahir,
            sex=found.jenis_kelamin,
            alive=found.status_hidup == "HIDUP",
            kk_number=found.no_kk,
            relation=found.hubungan_keluarga,
            kecamatan_code=found.kode_kecamatan,
        )

    async def family(self, kk_number: str) -> RegisteredFamily | None:
        found = await self._get(f"/api/v1/keluarga/{kk_number}", _Keluarga, what="family")
        if found is None:
            return None
        return RegisteredFamily(
            kk_number=found.no_kk,
            address=found.alamat,
            village=found.desa,
            kecamatan_code=found.kode_kecamatan,
            head_nik=found.kepala_keluarga_nik,
            members=tuple(
                FamilyMember(
                    nik=member.nik,
                    name=member.nama,
                    relation=member.hubungan_keluarga,
                    birth_date=member.tanggal_lahir,
                    sex=member.jenis_kelamin,
                    alive=member.status_hidup == "HIDUP",
                )
                for member in found.anggota
            ),
        )

    async def _get(self, path: str, model: type[M], *, what: str) -> M | None:
        # The path holds a NIK or a KK number: only `what` is ever logged.
        try:
            response = await self._client.get(self._url + path, headers=self._headers)
        except httpx.HTTPError as error:
            raise RegisterUnavailable(f"the register did not answer ({type(error).__name__})") from error
        if response.status_code == 404:
            return None
        if response.is_error:
            log.warning("register_refused", what=what, status=response.status_code)
            raise RegisterUnavailable(f"the register answered HTTP {response.status_code}")
        try:
            return model.model_validate_json(response.content)
        except ValidationError as error:
            log.warning("register_answer_malformed", what=what, errors=error.error_count())
            raise RegisterUnavailable("the register's answer is not in the lookup shape") from error
