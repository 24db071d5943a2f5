"""Personal data at rest: the NIK (Indonesian national identity number) is stored encrypted.

Two keys are derived from the one JEJAK_PII_KEY string with HKDF-SHA256, one per purpose,
so the lookup hash reveals nothing about the encryption key and vice versa:

- AES-256-GCM encrypts the NIK; a random 12-byte nonce is prefixed to the ciphertext.
- HMAC-SHA256 gives a keyed hash, stable for a given NIK, so rows can be found and
  compared without decrypting (a plain hash of a 16-digit number is brute-forced at once).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
# Binds a ciphertext to its purpose: a NIK ciphertext pasted into another column won't decrypt.
_NIK_AAD = b"jejak:nik"
_ENCRYPTION_PURPOSE = b"jejak/nik/aes-gcm/v1"
_HASH_PURPOSE = b"jejak/nik/hmac/v1"
_TOMBSTONE_PURPOSE = b"jejak/registration-no/tombstone/v1"
TOMBSTONE_PREFIX = "erased:"


@lru_cache(maxsize=8)
def _derived_key(pii_key: str, purpose: bytes) -> bytes:
    # Cached: an import protects many NIKs with one key, and HKDF per row would be waste.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        pii_key.encode()
    )


@lru_cache(maxsize=8)
def _cipher(pii_key: str) -> AESGCM:
    return AESGCM(_derived_key(pii_key, _ENCRYPTION_PURPOSE))


def hash_nik(nik: str, key: str) -> str:
    """The keyed hash (hex) stored beside the ciphertext, for lookups and comparisons."""
    hash_key = _derived_key(key, _HASH_PURPOSE)
    return hmac.new(hash_key, nik.encode(), hashlib.sha256).hexdigest()


def protect_nik(nik: str, key: str) -> tuple[bytes, str]:
    """Encrypt `nik` under the PII key: (nonce + ciphertext, keyed hash hex)."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _cipher(key).encrypt(nonce, nik.encode(), _NIK_AAD), hash_nik(nik, key)


def reveal_nik(ciphertext: bytes, key: str) -> str:
    """Decrypt what `protect_nik` stored; raises cryptography's InvalidTag on a wrong key."""
    nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
    return _cipher(key).decrypt(nonce, sealed, _NIK_AAD).decode()


def tombstone(registration_no: str, key: str) -> str:
    """What an erased alumnus's registration number becomes: opaque without the PII key,
    yet the same for the same number, so a later import of an old roster file recognises
    the erased person and refuses to bring them back (docs/decisions.md)."""
    tombstone_key = _derived_key(key, _TOMBSTONE_PURPOSE)
    digest = hmac.new(tombstone_key, registration_no.encode(), hashlib.sha256).hexdigest()
    return TOMBSTONE_PREFIX + digest[:48]  # 192 bits; fits registration_no's 64 characters
