"""Key rotation: every stored NIK re-encrypted and re-hashed under a new JEJAK_PII_KEY.

Run with the services stopped (or the roster import idle): `jejak keys rotate-pii` reads
the old key from JEJAK_PII_KEY_PREVIOUS and the new one from JEJAK_PII_KEY
(docs/security.md). Rows are rotated in batches, one transaction each; a row that already
opens with the new key is skipped, so an interrupted rotation is finished by running it
again. A row that opens with neither key stops the rotation and names it: nothing is
overwritten with garbage.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.models import Alumnus
from shared.pii import TOMBSTONE_PREFIX, protect_nik, reveal_nik

BATCH = 500


class RotationError(RuntimeError):
    """The rotation cannot go on safely; the message says which row and why."""


@dataclass
class RotationSummary:
    rotated: int = 0
    already_new: int = 0
    tombstones: int = 0


def erased_tombstones(db_session: Session) -> int:
    """Erased alumni whose registration number is a tombstone keyed by the PII key."""
    return db_session.scalar(
        select(func.count()).select_from(Alumnus)
        .where(Alumnus.registration_no.startswith(TOMBSTONE_PREFIX))
    ) or 0


def rotate_pii_key(session_factory: sessionmaker[Session], old_key: str, new_key: str,
                   batch: int = BATCH) -> RotationSummary:
    """Re-encrypt every NIK from `old_key` to `new_key`; see the module docstring."""
    if not old_key or not new_key or old_key == new_key:
        raise RotationError("give the previous key and a different new key")
    summary = RotationSummary()
    last_id = 0
    while True:
        with session_factory() as db_session:
            rows = db_session.scalars(
                select(Alumnus).where(Alumnus.id > last_id, Alumnus.nik_encrypted.is_not(None))
                .order_by(Alumnus.id).limit(batch)
            ).all()
            if not rows:
                summary.tombstones = erased_tombstones(db_session)
                return summary
            for alumnus in rows:
                try:
                    nik = reveal_nik(alumnus.nik_encrypted, old_key)
                except InvalidTag:
                    try:
                        reveal_nik(alumnus.nik_encrypted, new_key)
                    except InvalidTag:
                        raise RotationError(
                            f"the NIK of alumnus id {alumnus.id} opens with neither key: "
                            "is JEJAK_PII_KEY_PREVIOUS the key it was stored with?") from None
                    summary.already_new += 1
                    continue
                alumnus.nik_encrypted, alumnus.nik_hash = protect_nik(nik, new_key)
                summary.rotated += 1
            last_id = rows[-1].id
            db_session.commit()
