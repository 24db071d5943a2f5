"""envelope_address skips smtplib's parse for plain addresses: it must give the same text."""

from __future__ import annotations

import smtplib

from hypothesis import given, settings
from hypothesis import strategies as st

from services.outreach.channels.email import envelope_address, is_plain_envelope

ATOM = st.text("abcXYZ019.!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=12)
DOMAIN = st.text("abz09.-", min_size=1, max_size=12)
ODD = ["Ana <ana@x.id>", "a b@x.id", "a@x.id\r\nRCPT TO:<b@y.id>", '"a b"@x.id', "a@x.id>", "",
       "(c) a@x.id", "a@x.id\n"]


@settings(max_examples=300, deadline=None)
@given(ATOM, DOMAIN)
def test_a_plain_address_comes_out_as_smtplib_writes_it(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert is_plain_envelope(address)  # the fast path ran: smtplib was not asked
    assert envelope_address(address) == smtplib.quoteaddr(address)


def test_anything_else_goes_through_smtplib() -> None:
    for address in ODD:
        assert not is_plain_envelope(address)
        assert envelope_address(address) == smtplib.quoteaddr(address)
