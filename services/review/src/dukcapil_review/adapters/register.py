"""A client of the population register's read-only lookup API (SIAK's shape): JSON with Indonesian field names, the
key in the header X-API-Key.

A 404 is a person or card the register does not know. Anything else that is not an answer (no connection, a
timeout, a 5xx, a refused key) is RegisterUnavailable, and for `pause` seconds after it the register is not asked
at all: the request's checks are not done and are tried again later, so a register that is down costs one timeout,
not one per request.
"""

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog

from dukcapil_review.domain.register import RegisteredFamily, RegisteredPerson
from dukcapil_review.service_layer.register import PopulationRegister, RegisterUnavailable
from dukcapil_shared.contracts.identity import mask_number

log = structlog.get_logger(__name__)


class SiakRegister(PopulationRegister):
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        pause: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._headers = {"X-API-Key": api_key, "Accept": "application/json"}
        self._pause = pause
        self._monotonic = monotonic
        self._resting_until = 0.0
        self._rest_reason = ""

    async def person(self, nik: str) -> RegisteredPerson | None:
        body = await self._get(f"/api/v1/penduduk/{nik}", nik)
        if body is None:
            return None
        try:
            return RegisteredPerson(
                nik=str(body["nik"]),
                name=str(body["nama"]),
                birth_date=_date(body.get("tanggal_lahir")),
                female={"P": True, "L": False}.get(str(body.get("jenis_kelamin"))),
                alive=str(body.get("status_hidup", "HIDUP")).upper() != "MATI",
                died_on=_date(body.get("tanggal_kematian")),
                kk_number=body.get("no_kk"),
                kecamatan_code=body.get("kode_kecamatan"),
            )
        except (KeyError, TypeError) as error:
            raise self._unavailable("an answer of the wrong shape", nik) from error

    async def family(self, kk_number: str) -> RegisteredFamily | None:
        body = await self._get(f"/api/v1/keluarga/{kk_number}", kk_number)
        if body is None:
            return None
        try:
            return RegisteredFamily(
                kk_number=str(body["no_kk"]),
                kecamatan_code=body.get("kode_kecamatan"),
                member_niks=frozenset(str(member["nik"]) for member in body.get("anggota", [])),
            )
        except (KeyError, TypeError) as error:
            raise self._unavailable("an answer of the wrong shape", kk_number) from error

    async def _get(self, path: str, number: str) -> dict[str, Any] | None:
        now = self._monotonic()
        if now < self._resting_until:
            raise RegisterUnavailable(self._rest_reason)
        try:
            response = await self._http.get(path, headers=self._headers)
        except httpx.TimeoutException as error:
            raise self._unavailable("timeout", number) from error
        except httpx.TransportError as error:
            raise self._unavailable("no connection", number) from error
        if response.status_code == 404:
            return None
        if response.status_code == 422:
            # The register refuses the number as malformed: it knows nobody by it.
            return None
        if response.status_code != 200:
            raise self._unavailable(f"HTTP {response.status_code}", number)
        try:
            body = response.json()
        except ValueError as error:
            raise self._unavailable("an answer that is not JSON", number) from error
        if not isinstance(body, dict):
            raise self._unavailable("an answer of the wrong shape", number)
        return body

    def _unavailable(self, reason: str, number: str) -> RegisterUnavailable:
        self._resting_until = self._monotonic() + self._pause
        self._rest_reason = f"{reason}; not asked again for {self._pause:g} s"
        log.warning("register_lookup_failed", reason=reason, number=mask_number(number), pause_seconds=self._pause)
        return RegisterUnavailable(reason)


def _date(value: Any) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None
