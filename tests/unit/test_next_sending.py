"""When a launched campaign sends next, and why it waits: hand-worked times in WITA (UTC+8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.outreach.pacing import (
    NextSending,
    local_clock,
    next_sending,
    parse_quiet_hours,
    quiet_end,
)

WITA = "Asia/Makassar"
NIGHT = parse_quiet_hours("20:00-07:00")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def running(now: datetime, **kwargs) -> NextSending:
    defaults = {"status": "running", "due_now": {}, "next_due": None, "quiet": NIGHT,
                "timezone": WITA}
    return next_sending(now, **{**defaults, **kwargs})


def test_late_evening_waits_for_seven_tomorrow_morning() -> None:
    # 23:30 WITA on 7 December is 15:30 UTC; 07:00 WITA on 8 December is 23:00 UTC on the 7th
    waiting = running(utc(2026, 12, 7, 15, 30), due_now={"email": 74})
    assert waiting == NextSending("quiet_hours", utc(2026, 12, 7, 23, 0))
    assert local_clock(waiting.at, WITA)[1] == "07:00 WITA"
    assert local_clock(waiting.at, WITA)[0].day == 8


def test_after_midnight_waits_for_seven_the_same_morning() -> None:
    # 02:15 WITA on 8 December is 18:15 UTC on the 7th: the window ends the same local day
    assert running(utc(2026, 12, 7, 18, 15), due_now={"sms": 3}) == NextSending(
        "quiet_hours", utc(2026, 12, 7, 23, 0))


def test_the_edges_of_the_window() -> None:
    # 19:59 WITA (11:59 UTC) still sends; 20:00 (12:00 UTC) waits; 07:00 (23:00 UTC) sends
    assert running(utc(2026, 12, 7, 11, 59), due_now={"email": 1}).reason == "now"
    assert running(utc(2026, 12, 7, 12, 0), due_now={"email": 1}).at == utc(2026, 12, 7, 23, 0)
    assert running(utc(2026, 12, 7, 23, 0), due_now={"email": 1}) == NextSending(
        "now", utc(2026, 12, 7, 23, 0))


def test_a_step_whose_day_falls_in_the_night_goes_at_the_end_of_it() -> None:
    # launched 17:00 WITA on 7 Dec (09:00 UTC); day 4 is 11 Dec 17:00 WITA: no quiet hours
    now = utc(2026, 12, 7, 9, 0)
    assert running(now, next_due=utc(2026, 12, 11, 9, 0)) == NextSending(
        "scheduled", utc(2026, 12, 11, 9, 0))
    # launched 21:30 WITA (13:30 UTC), so day 4 is 21:30 WITA on 11 Dec: sent 07:00 on the 12th
    assert running(now, next_due=utc(2026, 12, 11, 13, 30)) == NextSending(
        "quiet_hours", utc(2026, 12, 11, 23, 0))


def test_a_retry_says_so() -> None:
    now = utc(2026, 12, 7, 2, 0)  # 10:00 WITA
    assert running(now, next_due=now + timedelta(minutes=4), next_is_retry=True) == (
        NextSending("retry", now + timedelta(minutes=4)))


def test_a_backlog_larger_than_one_second_of_the_rate_says_when_it_is_through() -> None:
    now = utc(2026, 12, 7, 2, 0)
    # 1,000 emails at 20 a second: 50 s; 15 SMS at 10 a second: 2 s; the slower one counts
    assert running(now, due_now={"email": 1000, "sms": 15}) == NextSending(
        "rate_limit", now, now + timedelta(seconds=50))
    assert running(now, due_now={"sms": 15}) == NextSending(
        "rate_limit", now, now + timedelta(seconds=2))
    assert running(now, due_now={"email": 20}) == NextSending("now", now)


def test_a_paused_or_draft_campaign_sends_nothing_by_itself() -> None:
    now = utc(2026, 12, 7, 2, 0)
    assert running(now, status="paused", due_now={"email": 5}) == NextSending("paused")
    assert running(now, status="draft") == NextSending("draft")


def test_nothing_left_is_done() -> None:
    assert running(utc(2026, 12, 7, 2, 0)) == NextSending("done")


def test_no_quiet_hours_and_a_window_within_one_day() -> None:
    now = utc(2026, 12, 7, 15, 30)  # 23:30 WITA
    assert running(now, due_now={"email": 1}, quiet=None).reason == "now"
    lunch = parse_quiet_hours("12:00-13:00")
    # 12:30 WITA = 04:30 UTC → 13:00 WITA = 05:00 UTC the same day
    assert quiet_end(utc(2026, 12, 7, 4, 30), lunch, WITA) == utc(2026, 12, 7, 5, 0)
    assert quiet_end(utc(2026, 12, 7, 5, 0), lunch, WITA) == utc(2026, 12, 7, 5, 0)
