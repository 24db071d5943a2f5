"""When a message may go: quiet hours, retry backoff, per-channel rate limits.

The first two are plain functions; the rate limit keeps its counters in Redis so it holds
across every worker process on every host.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

import redis

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
RATE_PER_SECOND = {"email": 20, "sms": 10, "whatsapp": 20}


def parse_quiet_hours(text: str) -> tuple[clock, clock] | None:
    """ "20:00-07:00" → (20:00, 07:00); empty → None (no quiet hours)."""
    if not text.strip():
        return None
    start, end = (clock.fromisoformat(part.strip()) for part in text.split("-", 1))
    return start, end


def in_quiet_hours(moment: datetime, quiet: tuple[clock, clock] | None, timezone: str) -> bool:
    if quiet is None:
        return False
    local = moment.astimezone(ZoneInfo(timezone)).time()
    start, end = quiet
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # the window crosses midnight


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential with jitter: about 1, 2, 4, … minutes, at most 6 hours."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(attempts - 1, 0)))
    return base * (rng or random).uniform(0.5, 1.5)


# A sliding one-second window in a Redis sorted set, checked and updated atomically with
# Redis's own clock, so workers on several hosts share one limit and no two-second
# boundary lets twice the rate through.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class RateLimit:
    """At most `RATE_PER_SECOND[channel]` sends in any one second, across all workers."""

    def __init__(self, redis_url: str, rates: dict[str, int] | None = None) -> None:
        self.client = redis.Redis.from_url(redis_url, socket_connect_timeout=2,
                                           socket_timeout=2)
        self.rates = rates or RATE_PER_SECOND
        self.script = self.client.register_script(_SLIDING_WINDOW)

    def wait(self, channel: str) -> None:
        limit = self.rates.get(channel, 10)
        while True:
            try:
                wait = float(self.script(keys=[f"jejak:rate:{channel}"],
                                         args=[1.0, limit, uuid.uuid4().hex]))
            except redis.RedisError:
                return  # no Redis, no counter: sending slower is not worth failing for
            if wait <= 0:
                return
            time.sleep(wait + 0.001)


# --- when the next message of a campaign may go (what the campaign page says) -----------

QuietWindow = tuple[clock, clock] | None


def quiet_hours_of(settings: Any) -> tuple[QuietWindow, str]:
    """The quiet window and the time zone it is read in, from one place.

    Today they come from the `JEJAK_QUIET_HOURS` and `JEJAK_TIMEZONE` settings; when they
    move to the settings table, only this function changes.
    """
    return parse_quiet_hours(settings.quiet_hours), settings.timezone


def quiet_end(moment: datetime, quiet: QuietWindow, timezone: str) -> datetime:
    """The first moment at or after `moment` outside the quiet window (`moment` itself when
    it is outside). A window that crosses midnight (20:00-07:00) ends on the next local day
    when `moment` falls before midnight, on the same day after it."""
    if not in_quiet_hours(moment, quiet, timezone):
        return moment
    assert quiet is not None
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    start, end = quiet
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # 23:30 in 20:00-07:00: the window ends tomorrow morning
    return datetime.combine(day, end, tzinfo=zone).astimezone(moment.tzinfo)


@dataclass(frozen=True)
class NextSending:
    """Why a campaign waits and until when.

    `reason`: `draft` (not launched), `paused`, `done` (nothing left to send), `now`,
    `scheduled` (the next step's day has not come), `retry` (a failed send waits for its
    backoff), `quiet_hours`, `rate_limit` (sending now, held to the per-channel rate).
    `at`: when the next message may go (UTC), None when nothing goes by itself.
    `finish`: with `rate_limit`, when the messages due now will all have gone.
    """

    reason: str
    at: datetime | None = None
    finish: datetime | None = None


def next_sending(
    now: datetime,
    *,
    status: str,
    due_now: dict[str, int],
    next_due: datetime | None,
    next_is_retry: bool = False,
    quiet: QuietWindow,
    timezone: str,
    rates: dict[str, int] | None = None,
) -> NextSending:
    """When a campaign's next message may go, and why not sooner.

    `due_now`: messages waiting whose time has come, by channel; `next_due`: the earliest
    later moment one of the others may go (its step's day, or its retry time), and whether
    that one is a retry. The same rules as `delivery.dispatch`: nothing goes while the
    campaign is not running or in quiet hours; a channel sends at most `rates[channel]` a
    second, so a backlog bigger than one second's worth says when it will be through.
    """
    rates = rates or RATE_PER_SECOND
    if status in ("draft", "paused"):
        return NextSending(status)
    if any(due_now.values()):
        if in_quiet_hours(now, quiet, timezone):
            return NextSending("quiet_hours", quiet_end(now, quiet, timezone))
        seconds = max(
            -(-count // rates.get(channel, 10)) for channel, count in due_now.items() if count
        )
        if seconds > 1:
            return NextSending("rate_limit", now, now + timedelta(seconds=seconds))
        return NextSending("now", now)
    if next_due is None:
        return NextSending("done")
    if in_quiet_hours(next_due, quiet, timezone):
        return NextSending("quiet_hours", quiet_end(next_due, quiet, timezone))
    return NextSending("retry" if next_is_retry else "scheduled", next_due)


def local_clock(moment: datetime, timezone: str) -> tuple[datetime, str]:
    """`moment` in the centre's time zone, and its clock with the zone's name: "07:00 WITA"."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local, f"{local:%H:%M} {local.tzname()}"
