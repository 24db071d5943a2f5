"""Opaque tokens for links in messages (survey links, unsubscribe links).

AES-SIV over a few integers under a key derived from JEJAK_SECRET_KEY and a purpose: the
token carries no readable ids, cannot be forged or altered (SIV authenticates), and is
deterministic, so the same ids always give the same link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV


@lru_cache(maxsize=16)
def _cipher(secret_key: str, purpose: str) -> AESSIV:
    # 64 bytes for AES-256-SIV; one key per purpose, none equal to the session key.
    return AESSIV(hashlib.sha512(f"jejak-{purpose}\x00{secret_key}".encode()).digest())


def seal(secret_key: str, purpose: str, *numbers: int) -> str:
    packed = struct.pack(f">{len(numbers)}Q", *numbers)
    sealed = _cipher(secret_key, purpose).encrypt(packed, [purpose.encode()])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def unseal(secret_key: str, purpose: str, token: str, count: int) -> tuple[int, ...] | None:
    """The numbers sealed in `token`, or None for anything that is not such a token."""
    if not token or len(token) > 200:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        packed = _cipher(secret_key, purpose).decrypt(sealed, [purpose.encode()])
        return struct.unpack(f">{count}Q", packed)
    except (InvalidTag, ValueError, binascii.Error, struct.error):
        return None


# Survey links are made by the survey service and by outreach (in messages): one recipe.
SURVEY_LINK = "survey-link"


def survey_link(settings_base_url: str, secret_key: str, wave_id: int, alumnus_id: int) -> str:
    return f"{settings_base_url}/survey/s/{seal(secret_key, SURVEY_LINK, wave_id, alumnus_id)}"


# An employer contact's personal link, per (wave, contact): made by the survey service (the
# link page) and later by outreach (employer campaigns): one recipe.
EMPLOYER_LINK = "employer-link"


def employer_link(settings_base_url: str, secret_key: str, wave_id: int, contact_id: int) -> str:
    return f"{settings_base_url}/survey/e/{seal(secret_key, EMPLOYER_LINK, wave_id, contact_id)}"
