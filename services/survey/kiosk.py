"""Event day (kiosk): the wave's name-search index, and taking an answer the kiosk queued.

At an in-person tracer event alumni find themselves on a tablet the staff unlocked for one
wave (services/survey/kiosk_pages.py), confirm with their birth date and answer. The kiosk
keeps working offline, so what it holds is cached on the device; this module decides what
that is. Per target only an opaque id, initials, program and cohort label, and, for
matching, keyed hashes of the name's word prefixes and of the registration number: never
a phone, an email, a birth date or a plain name. The hashes' key belongs to the unlock
(derived from the pass's nonce): it is on the device too, so it stops casual reading and
reuse across unlocks, not a determined guesser with the device (docs/reaching-alumni.md).

The opaque id is a keyed hash of (wave, alumnus) with the server's key: stable across
unlocks, so an answer queued before a re-unlock still names its alumnus, and meaningless
off the server.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.survey.intake import registration_key
from shared.models import Alumnus, Cohort, Program, WaveTarget

MODE = "event"  # Response.source of an answer given at a kiosk
HASH_HEX = 16  # 64 bits of each keyed hash: enough to match a roster, short to cache
PREFIX_FROM = 3  # a name word matches from its first three letters


@dataclass(frozen=True)
class KioskTarget:
    """One alumnus of the wave as the server knows them for a kiosk answer."""

    alumnus_id: int
    birth_date: date | None


def search_key(secret_key: str, nonce: str) -> str:
    """The name search's HMAC key for one unlock (sent to the kiosk, which hashes what is
    typed with it)."""
    return hmac.new(secret_key.encode(), f"kiosk-search:{nonce}".encode(),
                    hashlib.sha256).hexdigest()


def keyed(key: str, text: str) -> str:
    """HMAC-SHA256 of `text` with `key` (hex), shortened; kiosk.js computes the same."""
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:HASH_HEX]


def opaque_id(secret_key: str, wave_id: int, alumnus_id: int) -> str:
    return hmac.new(secret_key.encode(), f"kiosk-target:{wave_id}:{alumnus_id}".encode(),
                    hashlib.sha256).hexdigest()[:24]


def name_words(name: str) -> list[str]:
    """A name's words as the search compares them: no accents, lower case, letters and
    digits only ("Siti Nur'aini" → siti, nur, aini). kiosk.js `words` is the same rule."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(ch))
    return re.findall(r"[a-z0-9]+", plain.lower())


def word_prefixes(word: str) -> list[str]:
    """The prefixes a typed word may be: from PREFIX_FROM letters up to the whole word
    (a shorter word only whole)."""
    if len(word) <= PREFIX_FROM:
        return [word]
    return [word[:end] for end in range(PREFIX_FROM, len(word) + 1)]


def initials(name: str | None) -> str:
    """"Siti Nur Aini" → "S. N. A." (at most three letters, from the name as written)."""
    letters = [part[0].upper() for part in (name or "").split() if part[:1].isalpha()]
    return " ".join(f"{letter}." for letter in letters[:3]) or "?"


def roster_index(session: Session, secret_key: str, wave_id: int, nonce: str
                 ) -> dict[str, Any]:
    """What the kiosk caches for its name search, for the wave's not-erased targets."""
    key = search_key(secret_key, nonce)
    rows = session.execute(
        select(Alumnus.id, Alumnus.full_name, Alumnus.registration_no,
               Program.name.label("program"), Cohort.label.label("cohort"))
        .join(WaveTarget, (WaveTarget.alumnus_id == Alumnus.id)
              & (WaveTarget.wave_id == wave_id))
        .join(Program, Program.id == WaveTarget.program_id)
        .join(Cohort, Cohort.id == WaveTarget.cohort_id)
        .where(Alumnus.erased_at.is_(None))
        .order_by(Program.name, Cohort.label, Alumnus.id)
    ).all()
    people = []
    for row in rows:
        words = sorted({keyed(key, f"w:{prefix}") for word in name_words(row.full_name or "")
                        for prefix in word_prefixes(word)})
        people.append({
            "id": opaque_id(secret_key, wave_id, row.id),
            "initials": initials(row.full_name),
            "program": row.program,
            "cohort": row.cohort,
            "words": words,
            "reg": keyed(key, f"r:{registration_key(row.registration_no)}"),
        })
    return {"key": key, "prefix_from": PREFIX_FROM, "hash_hex": HASH_HEX, "people": people}


def target_of(session: Session, secret_key: str, wave_id: int, opaque: str
              ) -> KioskTarget | None:
    """The wave's not-erased target an opaque id names, else None. Recomputes the ids of
    the wave's targets (a few thousand HMACs, about a millisecond per thousand): no table
    of ids to keep in step with the roster."""
    rows = session.execute(
        select(Alumnus.id, Alumnus.birth_date)
        .join(WaveTarget, (WaveTarget.alumnus_id == Alumnus.id)
              & (WaveTarget.wave_id == wave_id))
        .where(Alumnus.erased_at.is_(None))
    ).all()
    for row in rows:
        if hmac.compare_digest(opaque_id(secret_key, wave_id, row.id), opaque):
            return KioskTarget(row.id, row.birth_date)
    return None


def same_birth_date(target: KioskTarget, typed: date) -> bool:
    return target.birth_date is not None and target.birth_date == typed


def answer_id(value: Any) -> uuid.UUID:
    """The response UUID the kiosk gave an answer; ValueError when it is none."""
    if not isinstance(value, str):
        raise ValueError("not a UUID")
    return uuid.UUID(value)
