"""Personal survey links: an opaque token per (wave, alumnus).

The token is AES-SIV of the two ids under a key derived from JEJAK_SECRET_KEY: it carries
no readable ids, cannot be forged or altered (SIV authenticates), and is deterministic, so
every message to the same alumnus for the same wave carries the same link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

_CONTEXT = [b"jejak survey link v1"]


def _cipher(secret_key: str) -> AESSIV:
    # 64 bytes for AES-256-SIV, derived so the link key is not the session-signing key.
    key = hashlib.sha512(b"jejak-survey-link\x00" + secret_key.encode()).digest()
    return AESSIV(key)


def make_token(secret_key: str, wave_id: int, alumnus_id: int) -> str:
    sealed = _cipher(secret_key).encrypt(struct.pack(">QQ", wave_id, alumnus_id), _CONTEXT)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def read_token(secret_key: str, token: str) -> tuple[int, int] | None:
    """(wave_id, alumnus_id), or None for anything that is not a token we made."""
    if not token or len(token) > 100:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        wave_id, alumnus_id = struct.unpack(">QQ", _cipher(secret_key).decrypt(sealed, _CONTEXT))
    except (InvalidTag, ValueError, binascii.Error, struct.error):
        return None
    return wave_id, alumnus_id
