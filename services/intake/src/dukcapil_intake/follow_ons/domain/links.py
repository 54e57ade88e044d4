"""The link that lets a family open and confirm a follow-on draft.

Its token is derived like an access code (access_codes.py): HMAC-SHA256 of the draft's id with the office's key,
under a purpose of its own, written in Crockford's base32 with a check symbol. It is stored nowhere: a notice holds a
placeholder naming the draft, filled in only as the notice is sent; the portal carries it in the body of its calls to
intake, never in a URL intake logs.
"""

import hashlib
import hmac
import re
import uuid

from dukcapil_intake.requests.domain.access_codes import AccessCode, AccessCodeMistyped

PLACEHOLDER = "[[tautan-lanjutan:{draft_id}]]"
_PLACEHOLDERS = re.compile(r"\[\[tautan-lanjutan:([0-9a-f-]{36})\]\]")
TOKEN_PARAMETER = "kode"
"""The query parameter of the portal's link that carries the token."""


class FollowOnLinks:
    def __init__(self, key: bytes, portal_url: str) -> None:
        if len(key) < 16:
            raise ValueError("the key must have at least 16 bytes")
        self._key = key
        self._portal_url = portal_url.rstrip("/")

    def token(self, draft_id: uuid.UUID) -> AccessCode:
        message = f"dukcapil-lebak-follow-on-v1:{draft_id}".encode()
        return AccessCode.of(hmac.new(self._key, message, hashlib.sha256).digest())

    def opens(self, draft_id: uuid.UUID, typed: str) -> bool:
        """Whether `typed` is the draft's token; raises AccessCodeMistyped for what is no token at all."""
        return hmac.compare_digest(self.token(draft_id).symbols, AccessCode.parse(typed).symbols)

    def link(self, draft_id: uuid.UUID) -> str:
        return f"{self._portal_url}/lanjutan/{draft_id}?{TOKEN_PARAMETER}={self.token(draft_id)}"

    def fill(self, text: str) -> str:
        """A notice's text with each placeholder replaced by its draft's link."""
        return _PLACEHOLDERS.sub(lambda found: self.link(uuid.UUID(found.group(1))), text)


__all__ = ["PLACEHOLDER", "TOKEN_PARAMETER", "AccessCodeMistyped", "FollowOnLinks"]
