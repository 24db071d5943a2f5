"""When a message may go: quiet hours, retry backoff, per-channel rate limits.

The first two are plain functions; the rate limit keeps its counters in Redis so it holds
across every worker process on every host.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from datetime import time as clock
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


def quiet_until(moment: datetime, quiet: tuple[clock, clock] | None, timezone: str) -> datetime:
    """The first moment at or after `moment` outside quiet hours."""
    if not in_quiet_hours(moment, quiet, timezone):
        return moment
    assert quiet is not None
    local = moment.astimezone(ZoneInfo(timezone))
    end = local.replace(hour=quiet[1].hour, minute=quiet[1].minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential with jitter: about 1, 2, 4, … minutes, at most 6 hours."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(attempts - 1, 0)))
    return base * (rng or random).uniform(0.5, 1.5)


class RateLimit:
    """At most `RATE_PER_SECOND[channel]` sends per second, across all workers."""

    def __init__(self, redis_url: str, rates: dict[str, int] | None = None) -> None:
        self.client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.rates = rates or RATE_PER_SECOND

    def wait(self, channel: str) -> None:
        limit = self.rates.get(channel, 10)
        while True:
            second = int(time.time())
            key = f"jejak:rate:{channel}:{second}"
            try:
                pipe = self.client.pipeline()
                pipe.incr(key)
                pipe.expire(key, 2)
                count = pipe.execute()[0]
            except redis.RedisError:
                return  # no Redis, no counter: sending slower is not worth failing for
            if count <= limit:
                return
            time.sleep(max(0.0, second + 1 - time.time()) + 0.001)
