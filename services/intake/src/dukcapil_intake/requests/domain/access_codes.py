"""The access code: what makes a citizen's request theirs alone.

The submission's answer carries it once, and the notice of receipt sends it by SMS and e-mail. Following the
request, uploading a scan, cancelling, resubmitting and fetching the document all need the request number
together with it; a NIK unlocks nothing, and neither does the request's id.

A code is 16 symbols of Crockford's base32 (80 bits, no I, L, O or U, so that it reads aloud and types without
doubt) and a check symbol (Luhn mod 32, which catches any one mistyped symbol and most swapped neighbours), shown
in groups: `K7QM-2XDP-9WBT-H4RZ-V`. It is not stored: it is derived from the request's id, a version and the
office's key (HMAC-SHA256), so a retried submission answers the same code, a lost code can be sent again, and
a table read by the wrong person reveals none. Bumping the version replaces a code that has leaked.
"""

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

from stdnum import luhn
from stdnum.exceptions import ValidationError as ChecksumError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U."""
SYMBOLS = 16
GROUP = 4
# Read the way Crockford's base32 reads them: what a person may type for what is printed.
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})

PLACEHOLDER = "[[kode-akses:{version}]]"
"""Where a notice carries a request's code: put in only when the notice is sent, so no stored notice holds one."""
_PLACEHOLDERS = re.compile(r"\[\[kode-akses:(\d+)\]\]")


class AccessCodeMistyped(ValueError):
    """Not a code at all (wrong length, a symbol no code has, or a check symbol that does not fit)."""


@dataclass(frozen=True)
class AccessCode:
    symbols: str
    """The 16 symbols and the check symbol, without separators."""

    def __str__(self) -> str:
        body = self.symbols[:SYMBOLS]
        groups = [body[start : start + GROUP] for start in range(0, SYMBOLS, GROUP)]
        return "-".join([*groups, self.symbols[SYMBOLS:]])

    @classmethod
    def of(cls, digest: bytes) -> "AccessCode":
        """The code of 80 bits of `digest`."""
        value = int.from_bytes(digest[:10], "big")
        body = "".join(ALPHABET[(value >> (5 * (SYMBOLS - 1 - index))) & 31] for index in range(SYMBOLS))
        return cls(body + luhn.calc_check_digit(body, alphabet=ALPHABET))

    @classmethod
    def parse(cls, text: str) -> "AccessCode":
        """A code as a person typed it: any case, with or without dashes and spaces; O for 0 and I or L for 1."""
        symbols = "".join(text.split()).replace("-", "").upper().translate(_LOOKALIKES)
        if len(symbols) != SYMBOLS + 1 or any(symbol not in ALPHABET for symbol in symbols):
            raise AccessCodeMistyped(f"an access code has {SYMBOLS + 1} letters and digits, e.g. K7QM-2XDP-9WBT-H4RZ-V")
        try:
            luhn.validate(symbols, alphabet=ALPHABET)
        except ChecksumError:
            raise AccessCodeMistyped("the access code has a mistyped letter or digit: check it again") from None
        return cls(symbols)


class AccessCodes:
    """Derives and checks the codes of requests, with the office's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the access-code key must have at least 16 bytes")
        self._key = key

    def of(self, request_id: uuid.UUID, version: int) -> AccessCode:
        message = f"dukcapil-lebak-access-code-v1:{request_id}:{version}".encode()
        return AccessCode.of(hmac.new(self._key, message, hashlib.sha256).digest())

    def opens(self, request_id: uuid.UUID, version: int, code: AccessCode) -> bool:
        return hmac.compare_digest(self.of(request_id, version).symbols, code.symbols)

    def fill(self, text: str, request_id: uuid.UUID) -> str:
        """A notice's text with its placeholder replaced by the request's code."""
        return _PLACEHOLDERS.sub(lambda found: str(self.of(request_id, int(found.group(1)))), text)
