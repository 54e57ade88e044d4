import pytest

from dukcapil_shared.contracts.regions import find_village, lebak_kecamatan
from dukcapil_shipping.adapters.destinations import InvalidDestinationTable, load_destinations, parse_destinations
from dukcapil_shipping.domain.destinations import DestinationTable

TABLE = load_destinations()


def check(kecamatan_code: str, village_code: str | None = None, postal_code: str | None = None):  # type: ignore[no-untyped-def]
    return TABLE.check(kecamatan_code=kecamatan_code, village_code=village_code, postal_code=postal_code)


def test_the_packaged_table_covers_every_kecamatan_of_lebak_with_its_own_destination_code() -> None:
    for code, kecamatan in lebak_kecamatan().items():
        row = TABLE.get(code)
        assert row is not None, f"{code} {kecamatan.name} is missing"
        assert row.destination_code == f"RKB100{code[-2:]}" and row.postal_codes and row.serviceable
        assert row.name == kecamatan.name
    for row in TABLE:
        if row.region_code.count(".") == 3:
            village = find_village(row.region_code)
            assert village is not None and village.kecamatan_code == row.region_code[:8], row


def test_a_lebak_village_of_its_kecamatan_with_a_matching_postal_code_gets_the_destination_code() -> None:
    result = check("36.02.14", "36.02.14.1002", "42312")
    assert (result.serviceable, result.destination_code, result.postal_code) == (True, "RKB10014", "42312")
    assert check("36.02.03").destination_code == "RKB10003"


def test_a_missing_postal_code_is_taken_from_the_table_when_it_has_only_one() -> None:
    assert check("36.02.03", "36.02.03.2002").postal_code == "42393"
    assert check("36.02.14").postal_code is None, "Rangkasbitung has several"


@pytest.mark.parametrize(
    ("address", "problem", "words"),
    [
        (("36.02.99", None, None), "unknown_kecamatan", "36.02.99"),
        (("36.04.05", None, None), "unknown_kecamatan", "tabel tujuan kurir"),
        (("36.02.14", "36.02.14.1001", None), "unknown_village", "36.02.14.1001"),
        (("36.02.14", "36.02.03.2002", None), "village_elsewhere", "Kecamatan Rangkasbitung"),
        (("36.02.14", None, "42393"), "postal_code_mismatch", "42393"),
        (("36.02.06", "36.02.06.2001", None), "not_serviceable", "Kanekes"),
    ],
)
def test_what_the_courier_cannot_serve_is_said_in_plain_words(
    address: tuple[str, str | None, str | None], problem: str, words: str
) -> None:
    result = check(*address)
    assert (result.serviceable, result.problem, result.destination_code) == (False, problem, None)
    assert result.detail is not None and words in result.detail


def test_a_kecamatan_outside_lebak_can_be_added_to_the_table_and_its_villages_are_not_looked_up() -> None:
    rows = parse_destinations(
        "region_code,name,postal_codes,destination_code,serviceable,note\n"
        "36.04.05,Kramatwatu,42161,SRG10005,yes,\n"
        "36.02.28,Cigemblong,42395,RKB10028,no,Jalan putus\n"
    )
    table = DestinationTable(rows, find_village=find_village)
    served = table.check(kecamatan_code="36.04.05", village_code="36.04.05.2001", postal_code="42161")
    assert (served.serviceable, served.destination_code) == (True, "SRG10005")
    elsewhere = table.check(kecamatan_code="36.04.05", village_code="36.04.06.2001", postal_code=None)
    assert elsewhere.problem == "village_elsewhere"
    closed = table.check(kecamatan_code="36.02.28", village_code=None, postal_code=None)
    assert (closed.problem, closed.detail) == ("not_serviceable", "Kurir tidak melayani Cigemblong: Jalan putus")


@pytest.mark.parametrize(
    "text",
    [
        "region_code,name,destination_code\n36.02.01,Malingping,RKB10001\n",
        "region_code,name,postal_codes,destination_code,serviceable\n36.02.01,Malingping,4239,RKB10001,yes\n",
        "region_code,name,postal_codes,destination_code,serviceable\n36.02.01,Malingping,42391,RKB10001,maybe\n",
        "region_code,name,postal_codes,destination_code,serviceable\n36.02.01,Malingping,42391,,yes\n",
    ],
)
def test_a_broken_table_is_refused_at_start(text: str) -> None:
    with pytest.raises(InvalidDestinationTable):
        parse_destinations(text)
