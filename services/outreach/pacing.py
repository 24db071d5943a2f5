"""When a message may go: quiet hours, retry backoff, per-channel rate limits.

The first two are plain functions; the rate limit keeps its counters in Redis so it holds
across every worker process on every host.
"""

from __future__ import annotations

import random
import time
import uuid
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
