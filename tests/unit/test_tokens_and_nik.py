"""Personal links and stored NIKs: what an attacker holding one, or a database copy, can do.

Hand-made examples: a link for wave 7 and alumnus 4021, a NIK of sixteen digits.
"""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from shared.pii import hash_nik, protect_nik, reveal_nik
from shared.tokens import seal, unseal

KEY = "a-secret-key-of-thirty-two-chars"
OTHER_KEY = "another-secret-key-of-32-chars!!"
NIK = "6474012501990003"


def test_a_personal_link_opens_to_its_own_ids_and_shows_none() -> None:
    token = seal(KEY, "survey-link", 7, 4021)
    assert unseal(KEY, "survey-link", token, 2) == (7, 4021)
    assert "4021" not in token  # no readable ids


def test_a_changed_link_is_refused_not_opened_to_someone_else() -> None:
    token = seal(KEY, "survey-link", 7, 4021)
    for position in range(len(token)):
        flipped = "A" if token[position] != "A" else "B"
        forged = token[:position] + flipped + token[position + 1:]
        assert unseal(KEY, "survey-link", forged, 2) is None, position


def test_a_link_made_for_one_purpose_or_key_opens_nothing_else() -> None:
    token = seal(KEY, "unsubscribe", 7, 4021)
    assert unseal(KEY, "survey-link", token, 2) is None  # an unsubscribe link is no survey link
    assert unseal(OTHER_KEY, "unsubscribe", token, 2) is None  # nor valid under another key


def test_a_stored_nik_reads_only_with_the_key_and_is_not_in_the_database_row() -> None:
    ciphertext, digest = protect_nik(NIK, KEY)
    assert NIK.encode() not in ciphertext and NIK not in digest
    assert reveal_nik(ciphertext, KEY) == NIK
    with pytest.raises(InvalidTag):
        reveal_nik(ciphertext, OTHER_KEY)
    # The lookup hash is keyed: the same NIK under another key hashes differently, so a
    # database copy cannot be searched with a list of NIKs.
    assert hash_nik(NIK, KEY) == digest != hash_nik(NIK, OTHER_KEY)
    # Two encryptions of one NIK differ (a random nonce): equal ciphertexts reveal nothing.
    assert protect_nik(NIK, KEY)[0] != ciphertext
