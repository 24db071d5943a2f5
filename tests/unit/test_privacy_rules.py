"""The erasure tombstone (shared.pii.tombstone): opaque, stable, bound to the key."""

from __future__ import annotations

from shared.pii import TOMBSTONE_PREFIX, tombstone


def test_a_tombstone_is_stable_opaque_and_fits_the_column() -> None:
    first = tombstone("BLK-001", "key-a")
    assert first == tombstone("BLK-001", "key-a")
    assert first.startswith(TOMBSTONE_PREFIX) and "BLK" not in first and len(first) <= 64
    assert first != tombstone("BLK-002", "key-a")
    assert first != tombstone("BLK-001", "key-b")  # without the key, no guessing
