"""Synthetic residents of Lebak in their families, generated from a seed: the same seed, the same register.

Nobody here is real. Names are drawn from common Sundanese and Indonesian given names, places from the ministry's
list of Lebak's kecamatan and villages. Every NIK is well formed (`36 02 CC DDMMYY SSSS`: the kecamatan of the family,
the birth date with 40 added to the day for women, a serial from 0001 unique per region and date) and so is every KK
number (the kecamatan, the day the card was recorded, a serial). A few residents have died: their status is MATI
with a date of death, and they stay listed on their family card, as SIAK shows them until the card is changed.

Dates are drawn relative to a fixed day (REFERENCE_DATE), not today, so that a seed gives the same register on any
day; the register therefore has no death after that day.
"""

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from dukcapil_shared.contracts.regions import Kecamatan, Village, lebak_kecamatan, lebak_villages

REFERENCE_DATE = dt.date(2026, 1, 1)
DEFAULT_SEED = 3602
DEFAULT_RESIDENTS = 3000

KEPALA_KELUARGA = "KEPALA KELUARGA"
ISTRI = "ISTRI"
SUAMI = "SUAMI"
ANAK = "ANAK"
ORANG_TUA = "ORANG TUA"
FAMILI_LAIN = "FAMILI LAIN"
HIDUP = "HIDUP"
MATI = "MATI"

MALE_NAMES = (
    "Asep", "Ujang", "Dede", "Acep", "Cecep", "Ade", "Agus", "Budi", "Dadang", "Deden", "Jajang", "Rahmat", "Ahmad",
    "Muhammad", "Hendra", "Yayan", "Udin", "Usep", "Iwan", "Wawan", "Endang", "Entis", "Dodi", "Yusuf", "Rizki",
    "Fajar", "Ilham", "Andi", "Rudi", "Saepudin", "Maman", "Engkos", "Oman", "Nana", "Aceng", "Kurnia", "Ridwan",
    "Firman", "Hilman", "Jaenudin",
)  # fmt: skip
FEMALE_NAMES = (
    "Siti", "Euis", "Neneng", "Iis", "Enok", "Imas", "Yati", "Nur", "Dewi", "Rina", "Lilis", "Eneng", "Popon",
    "Entin", "Sri", "Ani", "Wati", "Yuyun", "Nining", "Cucu", "Tati", "Ela", "Rohmah", "Aisyah", "Fitri", "Nurul",
    "Ratna", "Yanti", "Mimin", "Omah", "Ika", "Lina", "Sarah", "Putri", "Ayu", "Nia", "Desi", "Rini", "Eti", "Ulfah",
)  # fmt: skip
MALE_SURNAMES = (
    "Suryana", "Hidayat", "Setiawan", "Saputra", "Supriatna", "Permana", "Kurniawan", "Sulaeman", "Rohman",
    "Hermawan", "Gunawan", "Sopyan", "Mulyana", "Ruhiyat", "Sobandi", "Nurdin", "Hamdani", "Firdaus", "Maulana",
    "Sutisna", "Wijaya", "Pratama", "Ramdani", "Komarudin", "Jamaludin",
)  # fmt: skip
FEMALE_SURNAMES = (
    "Rahmawati", "Nurhayati", "Suryani", "Kurniasih", "Mulyani", "Hasanah", "Fauziah", "Komariah", "Rohaeti",
    "Aminah", "Maryam", "Sumiati", "Wulandari", "Lestari", "Handayani", "Purnamasari", "Solihat", "Nurjanah",
    "Marlina", "Yuliani",
)  # fmt: skip
KAMPUNG = (
    "Cibeureum", "Cikadu", "Pasirhuni", "Sukamaju", "Babakan", "Cisalak", "Leuwidamar", "Cigintung", "Pamatang",
    "Sindangsari", "Cijengkol", "Kadulimus", "Pasir Eurih", "Ciawi", "Bojong", "Lebakgedong", "Cibuah", "Kaduagung",
)  # fmt: skip
JOBS_ADULT = (
    "PETANI/PEKEBUN", "WIRASWASTA", "BURUH HARIAN LEPAS", "PEDAGANG", "KARYAWAN SWASTA", "BURUH TANI/PERKEBUNAN",
    "GURU", "SOPIR", "NELAYAN/PERIKANAN",
)  # fmt: skip


@dataclass(frozen=True)
class Resident:
    nik: str
    nama: str
    tempat_lahir: str
    tanggal_lahir: dt.date
    jenis_kelamin: str
    """L (laki-laki) or P (perempuan)."""
    status_hidup: str
    tanggal_kematian: dt.date | None
    no_kk: str
    hubungan_keluarga: str
    kode_kecamatan: str
    kecamatan: str
    desa: str
    alamat: str
    agama: str
    status_perkawinan: str
    pekerjaan: str

    @property
    def alive(self) -> bool:
        return self.status_hidup == HIDUP


@dataclass(frozen=True)
class Family:
    no_kk: str
    alamat: str
    desa: str
    kecamatan: str
    kode_kecamatan: str
    kepala_keluarga_nik: str
    anggota: tuple[Resident, ...]


@dataclass
class Population:
    residents: dict[str, Resident] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)

    def families_in(self, kecamatan: str | None) -> Iterator[Family]:
        """Families of a kecamatan, named by its code (36.02.14) or its name (case ignored); all without one."""
        wanted = (kecamatan or "").strip().lower()
        for family in self.families.values():
            if not wanted or wanted in (family.kode_kecamatan, family.kecamatan.lower()):
                yield family


@dataclass(frozen=True)
class _Person:
    """A member before their NIK is given out."""

    name: str
    female: bool
    born: dt.date
    relation: str
    died: dt.date | None = None
    job: str = ""
    married: str = "BELUM KAWIN"


class _Serials:
    """Serials from 0001 per 12-digit prefix (region and date), so that no two numbers are the same."""

    def __init__(self) -> None:
        self._next: dict[str, int] = defaultdict(lambda: 1)

    def number(self, prefix: str) -> str:
        serial = self._next[prefix]
        self._next[prefix] = serial + 1
        return f"{prefix}{serial:04d}"


def generate(seed: int = DEFAULT_SEED, count: int = DEFAULT_RESIDENTS) -> Population:
    """About `count` residents (exactly, unless count is 0) in families spread over Lebak's 28 kecamatan."""
    rng = random.Random(seed)
    kecamatan = sorted(lebak_kecamatan().values(), key=lambda k: k.code)
    villages: dict[str, list[Village]] = defaultdict(list)
    for village in sorted(lebak_villages().values(), key=lambda v: v.code):
        villages[village.kecamatan_code].append(village)
    niks, kk_numbers = _Serials(), _Serials()
    population = Population()
    index = 0
    while len(population.residents) < count:
        # Round-robin over the kecamatan first, so that even a small register has families in every one of them.
        where = kecamatan[index % len(kecamatan)] if index < len(kecamatan) else rng.choice(kecamatan)
        index += 1
        members = _members(rng)[: count - len(population.residents)]
        family = _family(rng, where, rng.choice(villages[where.code]), members, niks, kk_numbers)
        population.families[family.no_kk] = family
        population.residents.update((member.nik, member) for member in family.anggota)
    return population


def _members(rng: random.Random) -> list[_Person]:
    head_female = rng.random() < 0.08
    head_born = _date_between(rng, dt.date(1945, 1, 1), dt.date(1998, 12, 31))
    head_surname = rng.choice(FEMALE_SURNAMES if head_female else MALE_SURNAMES)
    married = not head_female and rng.random() < 0.85
    head = _Person(
        _name(rng, head_female, head_surname),
        head_female,
        head_born,
        KEPALA_KELUARGA,
        job=rng.choice(JOBS_ADULT),
        married="KAWIN" if married else "BELUM KAWIN" if head_born.year > 1985 else "CERAI MATI",
    )
    members = [head]
    if married:
        spouse_born = _date_between(rng, head_born - dt.timedelta(days=365 * 3), head_born + dt.timedelta(days=365 * 8))
        job = "MENGURUS RUMAH TANGGA" if rng.random() < 0.7 else rng.choice(JOBS_ADULT)
        members.append(
            _Person(_name(rng, True), True, min(spouse_born, dt.date(2000, 12, 31)), ISTRI, job=job, married="KAWIN")
        )
    youngest_parent = max(member.born for member in members)
    first_child = youngest_parent + dt.timedelta(days=365 * 19)
    for _ in range(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 5))):
        if first_child >= REFERENCE_DATE:
            break
        born = _date_between(rng, first_child, min(first_child + dt.timedelta(days=365 * 22), REFERENCE_DATE))
        female = rng.random() < 0.5
        age = (REFERENCE_DATE - born).days // 365
        job = "PELAJAR/MAHASISWA" if 6 <= age < 19 else "BELUM/TIDAK BEKERJA" if age < 6 else rng.choice(JOBS_ADULT)
        surname = head_surname if not head.female and rng.random() < 0.3 else None
        members.append(_Person(_name(rng, female, surname), female, born, ANAK, job=job))
    if rng.random() < 0.12:
        born = _date_between(rng, head_born - dt.timedelta(days=365 * 40), head_born - dt.timedelta(days=365 * 18))
        female = rng.random() < 0.6
        married = "CERAI MATI" if rng.random() < 0.7 else "KAWIN"
        members.append(_Person(_name(rng, female), female, born, ORANG_TUA, job="BELUM/TIDAK BEKERJA", married=married))
    elif rng.random() < 0.05:
        born = _date_between(rng, dt.date(1960, 1, 1), dt.date(2005, 12, 31))
        female = rng.random() < 0.5
        members.append(_Person(_name(rng, female), female, born, FAMILI_LAIN, job=rng.choice(JOBS_ADULT)))
    return [_maybe_dead(rng, member) for member in members]


def _maybe_dead(rng: random.Random, person: _Person) -> _Person:
    age = (REFERENCE_DATE - person.born).days / 365.25
    chance = 0.25 if age > 70 else 0.06 if age > 50 else 0.01
    if rng.random() >= chance:
        return person
    died = _date_between(rng, max(person.born, REFERENCE_DATE - dt.timedelta(days=365 * 6)), REFERENCE_DATE)
    return _Person(person.name, person.female, person.born, person.relation, died, person.job, person.married)


def _family(
    rng: random.Random,
    kecamatan: Kecamatan,
    village: Village,
    members: list[_Person],
    niks: _Serials,
    kk_numbers: _Serials,
) -> Family:
    region = kecamatan.code.replace(".", "")
    youngest = max(member.born for member in members)
    recorded = _date_between(rng, max(youngest, dt.date(2005, 1, 1)), REFERENCE_DATE)
    no_kk = kk_numbers.number(region + recorded.strftime("%d%m%y"))
    alamat = (
        f"KP. {rng.choice(KAMPUNG).upper()} RT {rng.randint(1, 12):03d}/RW {rng.randint(1, 8):03d}"
        f" DESA {village.name.upper()}"
    )
    agama = "ISLAM" if rng.random() < 0.97 else rng.choice(("KRISTEN", "KATHOLIK", "BUDHA"))
    residents = []
    for member in members:
        day = member.born.day + (40 if member.female else 0)
        nik = niks.number(f"{region}{day:02d}{member.born:%m%y}")
        residents.append(
            Resident(
                nik=nik,
                nama=member.name.upper(),
                tempat_lahir="LEBAK",
                tanggal_lahir=member.born,
                jenis_kelamin="P" if member.female else "L",
                status_hidup=MATI if member.died else HIDUP,
                tanggal_kematian=member.died,
                no_kk=no_kk,
                hubungan_keluarga=member.relation,
                kode_kecamatan=kecamatan.code,
                kecamatan=kecamatan.name.upper(),
                desa=village.name.upper(),
                alamat=alamat,
                agama=agama,
                status_perkawinan=member.married,
                pekerjaan=member.job,
            )
        )
    return Family(
        no_kk=no_kk,
        alamat=alamat,
        desa=village.name.upper(),
        kecamatan=kecamatan.name.upper(),
        kode_kecamatan=kecamatan.code,
        kepala_keluarga_nik=residents[0].nik,
        anggota=tuple(residents),
    )


def _name(rng: random.Random, female: bool, surname: str | None = None) -> str:
    given = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
    if surname is None:
        surname = rng.choice(FEMALE_SURNAMES if female else MALE_SURNAMES)
    return f"{given} {surname}"


def _date_between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    if last <= first:
        return first
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))
