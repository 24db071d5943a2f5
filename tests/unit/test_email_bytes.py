"""email_bytes writes plain ASCII emails itself: byte for byte what EmailMessage makes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.outreach.channels.base import Outgoing
from services.outreach.channels.email import build_email, email_bytes

DATE = "Fri, 27 Nov 2026 21:19:41 +0000"
SECRET = "k" * 32
SENDERS = ("Jejak <tracer@blki.test>", "tracer@blki.test", "UPTD B.L.K.I, Bontang <a@b.c>",
           "Pusat Pelatihan Kerja Bontang <surveialumni@blki-bontang.kemnaker.go.id>")
URL = "http://127.0.0.1:8000/outreach/u/" + "y" * 40


def same(message: Outgoing, sender: str) -> None:
    assert email_bytes(message, sender, SECRET, DATE) == build_email(
        message, sender, SECRET, DATE).as_bytes()


def test_the_default_invitation_is_written_like_email_message() -> None:
    body = "Halo Alumnus 1,\n\nIsi survei ini:\nhttp://x/survey/s/abc\n\nTerima kasih.\n"
    for sender in SENDERS:
        for url in (URL, None):
            same(Outgoing(7, "email", "alumnus1@bench.test", body, subject="Tracer study: "
                          "bagaimana kabar Anda?", unsubscribe_url=url), sender)


def test_what_is_not_plain_goes_through_email_message() -> None:
    for subject, body, address in (
        ("Survei alumni — BLKI", "Halo", "a@b.test"),   # non-ASCII subject
        ("Halo", "Terima kasih, Bu Siti 🙏", "a@b.test"),  # non-ASCII body
        ("=?utf-8?q?x?=", "Halo", "a@b.test"),           # looks like an encoded word
        ("s", "x" * 1200, "a@b.test"),                   # a line longer than 998
        ("s", "Halo", "Budi <a@b.test>"),                # not a bare address
        ("", "Halo", "a@b.test"),
    ):
        same(Outgoing(3, "email", address, body, subject=subject, unsubscribe_url=URL),
             SENDERS[0])
    html = Outgoing(4, "email", "a@b.test", "Halo", subject="s", html="<p>Halo</p>")
    assert b"text/html" in email_bytes(html, SENDERS[0], SECRET, DATE)


ascii_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=300)


@settings(max_examples=150, deadline=None)
@given(subject=ascii_text, body=ascii_text, sender=st.sampled_from(SENDERS),
       url=st.none() | st.just(URL), number=st.integers(1, 10**12))
def test_any_ascii_message_comes_out_the_same(subject, body, sender, url, number) -> None:
    subject = "".join(c if c.isprintable() else " " for c in subject)  # a header is one line
    same(Outgoing(number, "email", "x.y+z@host-1.example", body, subject=subject,
                  unsubscribe_url=url), sender)


words = st.lists(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126),
                         min_size=1, max_size=12), min_size=1, max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(subject=words, lines=st.lists(words | st.just(""), max_size=8),
       sender=st.sampled_from(SENDERS), url=st.none() | st.just(URL))
def test_plain_subjects_and_bodies_come_out_the_same(subject, lines, sender, url) -> None:
    same(Outgoing(42, "email", "alumnus9@bench.test", "\n".join(lines), subject=subject,
                  unsubscribe_url=url), sender)
