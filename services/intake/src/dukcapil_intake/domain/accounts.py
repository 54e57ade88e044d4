"""Staff accounts: who may sign in, in which role, and for which kecamatan (operators only)."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dukcapil_shared.auth import KECAMATAN_BOUND, Principal, Role
from dukcapil_shared.contracts.regions import find_kecamatan

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")


class AccountRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class StaffAccount:
    username: str
    full_name: str
    role: Role
    password_hash: str
    kecamatan_code: str | None = None
    active: bool = True
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    password_changed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def principal(self) -> Principal:
        return Principal(username=self.username, role=self.role, kecamatan_code=self.kecamatan_code)


def check_new_account(username: str, role: Role, kecamatan_code: str | None) -> None:
    if not USERNAME.match(username):
        raise AccountRefused(
            "invalid_username",
            "A user name is 3–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter.",
        )
    if role in KECAMATAN_BOUND:
        if kecamatan_code is None:
            raise AccountRefused("kecamatan_required", f"A {role.value} serves one kecamatan: give its kecamatan_code.")
        if find_kecamatan(kecamatan_code) is None:
            raise AccountRefused(
                "unknown_kecamatan",
                f"{kecamatan_code} is not one of Kabupaten Lebak's kecamatan (36.02.01 to 36.02.28).",
            )
    elif kecamatan_code is not None:
        raise AccountRefused("kecamatan_not_applicable", f"A {role.value} works for the whole regency: no kecamatan.")
