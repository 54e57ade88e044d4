from collections.abc import AsyncIterator
from functools import cache

import httpx
import pytest

from dukcapil_devtools.register_simulator.app import RegisterSimulatorSettings, create_app
from dukcapil_devtools.register_simulator.population import (
    ISTRI,
    KEPALA_KELUARGA,
    MATI,
    REFERENCE_DATE,
    Population,
    generate,
)
from dukcapil_shared.contracts.identity import parse_kk_number, parse_nik
from dukcapil_shared.contracts.regions import lebak_kecamatan

KEY = {"X-API-Key": "register-test-key"}


@cache
def population() -> Population:
    return generate(seed=11, count=1200)


@pytest.fixture
async def register() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(RegisterSimulatorSettings(api_key=KEY["X-API-Key"]), population())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://register") as client:
        yield client


def test_every_nik_and_kk_number_is_valid_by_the_projects_own_rules() -> None:
    residents = population().residents.values()
    assert len(residents) == 1200
    for resident in residents:
        nik = parse_nik(resident.nik)
        assert nik.birth_date(century_hint=resident.tanggal_lahir) == resident.tanggal_lahir
        assert nik.female == (resident.jenis_kelamin == "P")
        assert f"36.02.{nik.kecamatan}" == resident.kode_kecamatan
        assert parse_kk_number(resident.no_kk) == resident.kode_kecamatan
    assert len({resident.nik for resident in residents}) == len(residents)


def test_the_same_seed_gives_the_same_register_and_another_seed_another() -> None:
    again = generate(seed=11, count=1200)
    assert again.residents == population().residents
    assert generate(seed=12, count=1200).residents != population().residents


def test_families_cover_every_kecamatan_with_heads_wives_and_some_dead() -> None:
    families = population().families.values()
    assert {family.kode_kecamatan for family in families} == set(lebak_kecamatan())
    for family in families:
        assert family.anggota[0].hubungan_keluarga == KEPALA_KELUARGA
        assert family.kepala_keluarga_nik == family.anggota[0].nik
        assert all(member.no_kk == family.no_kk for member in family.anggota)
    dead = [resident for resident in population().residents.values() if resident.status_hidup == MATI]
    assert dead and all(r.tanggal_kematian and r.tanggal_lahir <= r.tanggal_kematian <= REFERENCE_DATE for r in dead)
    assert any(member.hubungan_keluarga == ISTRI for family in families for member in family.anggota)


async def test_a_resident_is_found_by_nik_with_siak_field_names(register: httpx.AsyncClient) -> None:
    resident = next(r for r in population().residents.values() if r.status_hidup == MATI)
    response = await register.get(f"/api/v1/penduduk/{resident.nik}", headers=KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nama"] == resident.nama and body["no_kk"] == resident.no_kk
    assert body["status_hidup"] == "MATI" and body["tanggal_kematian"] == resident.tanggal_kematian.isoformat()
    assert body["jenis_kelamin"] in ("L", "P") and body["kode_kecamatan"].startswith("36.02.")


async def test_a_family_card_lists_its_members(register: httpx.AsyncClient) -> None:
    family = next(f for f in population().families.values() if len(f.anggota) > 2)
    response = await register.get(f"/api/v1/keluarga/{family.no_kk}", headers=KEY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kepala_keluarga_nik"] == family.anggota[0].nik
    assert [member["nik"] for member in body["anggota"]] == [member.nik for member in family.anggota]
    assert body["anggota"][0]["hubungan_keluarga"] == "KEPALA KELUARGA"


async def test_unknown_numbers_are_404_and_malformed_ones_422(register: httpx.AsyncClient) -> None:
    unknown = await register.get("/api/v1/penduduk/3602144107900999", headers=KEY)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert (await register.get("/api/v1/keluarga/3602140101200999", headers=KEY)).status_code == 404
    malformed = await register.get("/api/v1/penduduk/36021441079", headers=KEY)
    assert malformed.status_code == 422 and malformed.json()["code"] == "invalid_nik"
    assert (await register.get("/api/v1/keluarga/ABCDEFGHIJKLMNOP", headers=KEY)).status_code == 422


async def test_every_lookup_needs_the_key(register: httpx.AsyncClient) -> None:
    nik = next(iter(population().residents))
    for path in (f"/api/v1/penduduk/{nik}", "/api/v1/keluarga?limit=1"):
        refused = await register.get(path, headers={"X-API-Key": "guess"})
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
        assert (await register.get(path)).status_code == 401
    assert (await register.get("/healthz")).status_code == 200


async def test_families_are_listed_by_kecamatan_code_or_name(register: httpx.AsyncClient) -> None:
    by_code = await register.get("/api/v1/keluarga", params={"kecamatan": "36.02.14", "limit": 3}, headers=KEY)
    assert by_code.status_code == 200, by_code.text
    families = by_code.json()
    assert 1 <= len(families) <= 3 and {family["kode_kecamatan"] for family in families} == {"36.02.14"}
    name = lebak_kecamatan()["36.02.14"].name
    by_name = await register.get("/api/v1/keluarga", params={"kecamatan": name.lower(), "limit": 3}, headers=KEY)
    assert by_name.json() == families
    too_many = await register.get("/api/v1/keluarga", params={"limit": 10_000}, headers=KEY)
    assert too_many.status_code == 422 and too_many.json()["code"] == "invalid_request"
