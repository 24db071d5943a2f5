"""AAPOR dispositions and response rates (framework-free: plain data in, plain data out).

Every targeted alumnus of a wave has one final disposition, taken from the strongest
evidence in this order (docs/indicators.md, "Response rates from dispositions"):

    I complete > P partial > R refusal > NE not eligible > NC non-contact > O other
    > UO unknown: every channel failed > UH unknown: never reached

- I: a complete response (whoever entered it), or a call whose interview was completed;
- P: a partial response, or a call partly answered;
- R: consent refused or withdrawn, an opt-out from messages, or a refusal on the phone;
- NE: not eligible (deceased, never completed the training), as recorded from a call;
- NC: contacted, no response: a message was delivered, or a call was answered by someone
  else (a callback);
- O: contacted, could not take part (illness, language);
- UO: every way of reaching them failed for good: each message failed permanently and each
  call found a wrong or inactive number (at least one such failure, and nothing else);
- UH: never reached otherwise (nothing delivered, calls not answered, not contacted at all).

With D = (I + P) + (R + NC + O) + (UH + UO) and e the eligible share among cases whose
eligibility is known, ((I + P) + (R + NC + O)) / ((I + P) + (R + NC + O) + NE):

    RR1 = I / D                 RR3 = I / ((I + P) + (R + NC + O) + e·(UH + UO))
    RR2 = (I + P) / D           RR4 = (I + P) / ((I + P) + (R + NC + O) + e·(UH + UO))
    COOP1 = I / ((I + P) + R + O)   REF1 = R / D   CON1 = ((I + P) + R + O) / D

NE cases are in no denominator. A rate whose denominator is 0 is None (not collected), never 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

CODES = ("I", "P", "R", "NE", "NC", "O", "UO", "UH")  # the order of strength
# A call's outcome (services/survey/call_list.py OUTCOMES) → the disposition it evidences.
# Outcomes that are only a try (a WhatsApp chat opened, no answer) evidence nothing beyond UH.
CALL_EVIDENCE = {"completed": "I", "partial": "P", "refused": "R", "not_eligible": "NE",
                 "callback": "NC", "cannot_take_part": "O"}
CHANNEL_FAILED = ("number_inactive", "wrong_number")


@dataclass(frozen=True)
class Evidence:
    """What is known of one target: `response` is "complete", "partial" or None; `refused`
    any refusal outside calls (consent withdrawn, opt-out); `delivered` a message reached
    them; `failed_for_good` messages that failed permanently; `pending` messages neither
    delivered nor failed for good; `calls` the outcomes of the calls and chats."""

    response: str | None = None
    refused: bool = False
    delivered: bool = False
    failed_for_good: int = 0
    pending: int = 0
    calls: tuple[str, ...] = field(default_factory=tuple)


def disposition(evidence: Evidence) -> str:
    """The one final disposition of a target (the order of the module docstring)."""
    found = {CALL_EVIDENCE[outcome] for outcome in evidence.calls if outcome in CALL_EVIDENCE}
    if evidence.response == "complete":
        found.add("I")
    elif evidence.response == "partial":
        found.add("P")
    if evidence.refused:
        found.add("R")
    if evidence.delivered:
        found.add("NC")
    for code in CODES[:6]:
        if code in found:
            return code
    channel_failures = evidence.failed_for_good + sum(
        outcome in CHANNEL_FAILED for outcome in evidence.calls)
    other_tries = evidence.pending + sum(
        outcome not in CHANNEL_FAILED for outcome in evidence.calls)
    return "UO" if channel_failures and not other_tries else "UH"


def tally(dispositions: Iterable[str]) -> dict[str, int]:
    counted = Counter(dispositions)
    unknown = set(counted) - set(CODES)
    if unknown:
        raise ValueError(f"not a disposition: {sorted(unknown)}")
    return {code: counted.get(code, 0) for code in CODES}


def _share(numerator: Fraction | int, denominator: Fraction | int) -> Fraction | None:
    return Fraction(numerator) / Fraction(denominator) if denominator else None


@dataclass(frozen=True)
class Rates:
    """The rates as exact fractions (None: no denominator), with e and how it was derived."""

    rr1: Fraction | None
    rr2: Fraction | None
    rr3: Fraction | None
    rr4: Fraction | None
    coop1: Fraction | None
    ref1: Fraction | None
    con1: Fraction | None
    e: Fraction | None
    e_basis: str


def rates(counts: dict[str, int]) -> Rates:
    """AAPOR RR1–RR4, COOP1, REF1, CON1 from the counts per disposition. When no case's
    eligibility is known (e has no denominator), e is taken as 1: every unknown case is
    counted as eligible, the cautious choice, and `e_basis` says so."""
    i, p, r, ne, nc, o, uo, uh = (counts.get(code, 0) for code in CODES)
    interviews, contacts, unknown = i + p, r + nc + o, uh + uo
    d = interviews + contacts + unknown
    known = _share(interviews + contacts, interviews + contacts + ne)
    e = known if known is not None else Fraction(1)
    basis = ("eligible share among cases of known eligibility: (I+P+R+NC+O) / (I+P+R+NC+O+NE)"
             if known is not None else "no case of known eligibility: e = 1")
    estimated = interviews + contacts + e * unknown
    return Rates(
        rr1=_share(i, d), rr2=_share(interviews, d),
        rr3=_share(i, estimated), rr4=_share(interviews, estimated),
        coop1=_share(i, interviews + r + o), ref1=_share(r, d),
        con1=_share(interviews + r + o, d), e=e, e_basis=basis,
    )
