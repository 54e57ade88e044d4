"""A population register (SIAK) read-only lookup service, for tests and the demo: synthetic residents of Lebak.

It stands for an outside system, so it shares no code with the review service: only the HTTP API. Every call but
/healthz needs the header `X-API-Key`. Answers are JSON with SIAK's Indonesian field names:
`GET /api/v1/penduduk/{nik}` a resident, `GET /api/v1/keluarga/{no_kk}` a family card and its members, and
`GET /api/v1/keluarga?kecamatan=...&limit=N` families to pick residents from (a development aid). Nothing is ever
written: the register is read-only from our side. REGISTER_SIM_DELAY_MS makes every lookup slow.
"""

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_devtools.register_simulator.population import (
    DEFAULT_RESIDENTS,
    DEFAULT_SEED,
    Family,
    Population,
    Resident,
    generate,
)

MAX_FAMILIES = 500


class RegisterSimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTER_SIM_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8012
    # Development-only key; review's default REVIEW_REGISTER_API_KEY matches it.
    api_key: str = "development-only-register-api-key"
    seed: int = Field(default=DEFAULT_SEED, description="The same seed gives the same residents")
    residents: int = Field(default=DEFAULT_RESIDENTS, ge=1, le=200_000, description="How many residents to generate")
    delay_ms: int = Field(default=0, ge=0, description="Milliseconds every lookup waits before answering (a slow SIAK)")


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def create_app(settings: RegisterSimulatorSettings | None = None, population: Population | None = None) -> FastAPI:
    settings = settings or RegisterSimulatorSettings()
    register = population or generate(settings.seed, settings.residents)
    app = FastAPI(title="Population register simulator (SIAK lookup shape)", description=__doc__, version="0.1.0")
    app.state.population = register

    @app.exception_handler(Refusal)
    async def _refused(_request: Request, refusal: Refusal) -> JSONResponse:
        return JSONResponse(status_code=refusal.status, content={"code": refusal.code, "message": refusal.message})

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        where = "; ".join(".".join(str(part) for part in e["loc"]) + ": " + e["msg"] for e in error.errors())
        return JSONResponse(status_code=422, content={"code": "invalid_request", "message": where})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=error.status_code, content={"code": "http_error", "message": str(error.detail)})

    async def lookup(request: Request) -> None:
        """Every lookup: the key first, then the configured delay (a slow register is slow for everyone)."""
        if request.headers.get("X-API-Key") != settings.api_key:
            raise Refusal(401, "unauthorized", "A valid X-API-Key header is required")
        if settings.delay_ms:
            await asyncio.sleep(settings.delay_ms / 1000)

    @app.get("/api/v1/penduduk/{nik}", tags=["register"])
    async def penduduk(nik: str, request: Request) -> dict[str, Any]:
        """A resident by NIK: identity, family card, relation in it, alive or dead, address."""
        await lookup(request)
        _sixteen_digits(nik, "invalid_nik", "NIK")
        resident = register.residents.get(nik)
        if resident is None:
            raise Refusal(404, "not_found", "NIK tidak terdaftar / NIK not in the register")
        return resident_view(resident)

    @app.get("/api/v1/keluarga/{no_kk}", tags=["register"])
    async def keluarga(no_kk: str, request: Request) -> dict[str, Any]:
        """A family card by its number, with every member (the dead ones too, until the card is changed)."""
        await lookup(request)
        _sixteen_digits(no_kk, "invalid_no_kk", "KK number")
        family = register.families.get(no_kk)
        if family is None:
            raise Refusal(404, "not_found", "Nomor KK tidak terdaftar / KK number not in the register")
        return family_view(family)

    @app.get("/api/v1/keluarga", tags=["development aid"])
    async def daftar_keluarga(
        request: Request,
        kecamatan: Annotated[str | None, Query(description="Kecamatan code (36.02.14) or name (Rangkasbitung)")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_FAMILIES)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        """Families of a kecamatan (or of all), in register order: to find synthetic residents for a walkthrough."""
        await lookup(request)
        families = list(register.families_in(kecamatan))
        return [family_view(family) for family in families[offset : offset + limit]]

    @app.get("/healthz", tags=["simulator"])
    async def healthz() -> dict[str, str | int]:
        return {"status": "ok", "residents": len(register.residents), "families": len(register.families)}

    return app


def resident_view(resident: Resident) -> dict[str, Any]:
    return {
        "nik": resident.nik,
        "nama": resident.nama,
        "tempat_lahir": resident.tempat_lahir,
        "tanggal_lahir": resident.tanggal_lahir.isoformat(),
        "jenis_kelamin": resident.jenis_kelamin,
        "status_hidup": resident.status_hidup,
        "tanggal_kematian": _iso(resident.tanggal_kematian),
        "no_kk": resident.no_kk,
        "hubungan_keluarga": resident.hubungan_keluarga,
        "kode_kecamatan": resident.kode_kecamatan,
        "kecamatan": resident.kecamatan,
        "desa": resident.desa,
        "alamat": resident.alamat,
        "agama": resident.agama,
        "status_perkawinan": resident.status_perkawinan,
        "pekerjaan": resident.pekerjaan,
    }


def family_view(family: Family) -> dict[str, Any]:
    return {
        "no_kk": family.no_kk,
        "alamat": family.alamat,
        "desa": family.desa,
        "kecamatan": family.kecamatan,
        "kode_kecamatan": family.kode_kecamatan,
        "kepala_keluarga_nik": family.kepala_keluarga_nik,
        "anggota": [
            {
                "nik": member.nik,
                "nama": member.nama,
                "tanggal_lahir": member.tanggal_lahir.isoformat(),
                "jenis_kelamin": member.jenis_kelamin,
                "hubungan_keluarga": member.hubungan_keluarga,
                "status_hidup": member.status_hidup,
            }
            for member in family.anggota
        ],
    }


def _sixteen_digits(number: str, code: str, what: str) -> None:
    if len(number) != 16 or not number.isdigit():
        raise Refusal(422, code, f"A {what} has exactly 16 digits")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
