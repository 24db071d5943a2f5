"""The kiosk's name search words, prefixes and initials (services/survey/kiosk.py), worked
by hand; kiosk.js applies the same rules to what is typed."""

from __future__ import annotations

from services.survey.kiosk import initials, keyed, name_words, word_prefixes


def test_a_name_is_split_into_plain_lower_case_words() -> None:
    assert name_words("Siti Nur'aini") == ["siti", "nur", "aini"]
    assert name_words("  ANDRÉ  Ṣalih-Putra ") == ["andre", "salih", "putra"]


def test_a_word_matches_from_its_first_three_letters() -> None:
    assert word_prefixes("siti") == ["sit", "siti"]
    assert word_prefixes("nur") == ["nur"]
    assert word_prefixes("al") == ["al"]


def test_initials_take_at_most_three_letters_of_the_written_name() -> None:
    assert initials("Siti Nur Aini Rahmawati") == "S. N. A."
    assert initials("budi") == "B."
    assert initials(None) == "?"


def test_the_keyed_hash_is_hmac_sha256_cut_to_sixteen_hex_digits() -> None:
    # HMAC-SHA256(key "k", "w:sit"), computed once by hand with Python's hmac module.
    import hashlib
    import hmac

    full = hmac.new(b"k", b"w:sit", hashlib.sha256).hexdigest()
    assert keyed("k", "w:sit") == full[:16] and len(keyed("k", "w:sit")) == 16
