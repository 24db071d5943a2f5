"""Personal survey links: an opaque token per (wave, alumnus) (see shared/tokens.py)."""

from __future__ import annotations

from shared.tokens import SURVEY_LINK as PURPOSE
from shared.tokens import seal, unseal


def make_token(secret_key: str, wave_id: int, alumnus_id: int) -> str:
    return seal(secret_key, PURPOSE, wave_id, alumnus_id)


def read_token(secret_key: str, token: str) -> tuple[int, int] | None:
    """(wave_id, alumnus_id), or None for anything that is not a token we made."""
    ids = unseal(secret_key, PURPOSE, token, 2)
    return (ids[0], ids[1]) if ids else None
