"""Rate limits: fixed-window counters in Redis (the `limits` library), set in Settings.

A limit is `Settings.rate_limit_<name>`, such as "20 per minute;200 per hour"; empty turns
it off. The counters live in the app's Redis, so a limit holds across every web process and
every service. The views decide what counts, because what should count differs:

- sign-in and open-link identification count failures only (a training room signs in
  behind one address; an event's alumni share its Wi-Fi): `refuse_when_exhausted` before
  the attempt, `charge(..., refuse=False)` after a failure;
- the public intake counts everything but an accepted first submission: `charge`.

Nothing runs for the other requests: no hook per request, no Redis round trip (each costs
~0.2 ms of CPU on these machines). A Redis outage lets attempts through, logged: it must not
turn alumni away.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

_STRATEGIES: dict[str, FixedWindowRateLimiter] = {}  # one storage (pool) per URI per process


def storage_uri(redis_url: str) -> str:
    """The `limits` spelling of the Redis URL (a unix socket is redis+unix://)."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url or "memory://"


def init_app(app: Flask) -> None:
    uri = storage_uri(app.config["JEJAK_SETTINGS"].redis_url)
    if uri not in _STRATEGIES:
        storage: Storage = storage_from_string(uri)
        _STRATEGIES[uri] = FixedWindowRateLimiter(storage)
    app.extensions["jejak_limits"] = _STRATEGIES[uri]


def client_address() -> str:
    """The caller's address (ProxyFix has set it from X-Forwarded-For behind a proxy)."""
    return request.remote_addr or "unknown"


def _items(name: str) -> list[RateLimitItem]:
    spec = getattr(current_app.config["JEJAK_SETTINGS"], f"rate_limit_{name}")
    return parse_many(spec) if spec else []


def _identifiers(name: str, key: str) -> tuple[str, ...]:
    # JEJAK_LIMIT_SCOPE keeps the counters of apps sharing one Redis apart (tests).
    return ("jejak-limit", current_app.config.get("JEJAK_LIMIT_SCOPE", ""), name, key)


def _too_many(strategy: FixedWindowRateLimiter, item: RateLimitItem,
              identifiers: tuple[str, ...]) -> TooManyRequests:
    reset_at = strategy.get_window_stats(item, *identifiers).reset_time
    return TooManyRequests(retry_after=max(1, math.ceil(reset_at - time.time())))


def refuse_when_exhausted(name: str, key: str) -> None:
    """429 (with Retry-After) when limit `name` has no attempt left for `key`."""
    _each_window(name, key, "checked", lambda strategy, item, ids: strategy.test(item, *ids),
                 refuse=True)


def charge(name: str, key: str, *, refuse: bool = True) -> None:
    """Count one attempt against limit `name` for `key`; with `refuse`, 429 once over it."""
    _each_window(name, key, "counted", lambda strategy, item, ids: strategy.hit(item, *ids),
                 refuse=refuse)


def _each_window(name: str, key: str, doing: str,
                 allowed: Callable[[FixedWindowRateLimiter, RateLimitItem, tuple[str, ...]],
                                   bool], *, refuse: bool) -> None:
    """`allowed` for each window of the limit ("20 per minute;200 per hour"): the first
    that says no raises 429 when `refuse`. Storage errors are logged and let through."""
    strategy: FixedWindowRateLimiter = current_app.extensions["jejak_limits"]
    identifiers = _identifiers(name, key)
    try:
        for item in _items(name):
            if not allowed(strategy, item, identifiers) and refuse:
                raise _too_many(strategy, item, identifiers)
    except TooManyRequests:
        raise
    except Exception:  # the limits library wraps Redis errors in its own types
        current_app.logger.exception("rate limit %s not %s: storage unreachable", name, doing)
