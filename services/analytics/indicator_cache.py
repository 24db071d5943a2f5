"""What the indicator readers keep between requests: one object per app, keyed by snapshot.

A large wave's figures cost far more to work out than to read (2,000 cells, 650,000
income-table entries at 1M responses): parsing its snapshot document, the small-group rule
of its cells, each group's figures, their sums. The API and the dashboard keep them in one
`IndicatorCache`, kept in `app.extensions["jejak_indicator_cache"]` (`of_app`), per
database and wave for the wave's current snapshot (`SnapshotEntries`): once a newer snapshot
of the wave is read, everything kept for the older one goes at once (it holds the older
snapshot's parsed cells, many megabytes). `clear()` drops everything (tests that rebuild a
database, and tests that measure what a first request costs).

Every entry is reused only while what it was computed from is the very same object (the
parsed cells, the snapshot view): `snapshots.read_snapshot` hands out new objects exactly
when a refresh or a live update changed something, so an entry is right as long as it is
found. Outside an app (the CLI, the Celery worker's exports, benches) there is no cache and
every read parses afresh.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from services.analytics.cells import JOB_SEARCH_CHANNELS, Cell, CellKey, merge, replaced
from services.analytics.disclosure import Disclosure
from services.analytics.indicators import (
    StratumKey,
    WeightedSums,
    weighted_sums,
    weighted_sums_replaced,
)

EXTENSION = "jejak_indicator_cache"
ANSWERS_KEEP = 64  # serialised answers per wave (one per query asked)
GROUPS_KEEP = 4096  # group figures per wave (by cohort: a thousand groups per query)
WEIGHTED_KEEP = 4096
MERGES_KEEP = 8192
# A sum whose parts changed in at most a tenth of its places is the previous sum with the
# difference applied; past that, summing afresh is as quick.
_REPLACE_SHARE = 10

WaveKey = tuple[str, int]  # (database URL, wave id)
log = logging.getLogger(__name__)


def _bounded(entries: OrderedDict[Any, Any], keep: int) -> None:
    while len(entries) > keep:
        entries.popitem(last=False)


@dataclass
class SnapshotEntries:
    """Everything kept for one snapshot of one wave: the small-group rule of its cells, the
    answers already serialised per query, each group's figures as JSON text, the weighted
    sums and the sums of cells of each group."""

    snapshot_id: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    _rule: tuple[list[tuple[CellKey, Cell]], Disclosure] | None = None
    answers: OrderedDict[Hashable, tuple[Any, str]] = field(default_factory=OrderedDict)
    groups: OrderedDict[Hashable, tuple[tuple[Cell, ...], str]] = field(
        default_factory=OrderedDict)
    _weighted: OrderedDict[Hashable, tuple[tuple[Cell, ...], WeightedSums]] = field(
        default_factory=OrderedDict)
    _merges: OrderedDict[Hashable, tuple[tuple[Cell, ...], Cell]] = field(
        default_factory=OrderedDict)
    _last_merge: OrderedDict[Hashable, tuple[tuple[Cell, ...], Cell]] = field(
        default_factory=OrderedDict)

    def rule(self, cells: list[tuple[CellKey, Cell]]) -> Disclosure:
        """The `Disclosure` of the wave's cells (all of them: the lattice is the wave's,
        whatever filter is asked, so the same group gets the same decision in every
        answer), reused while the very same list of cells is asked about."""
        with self.lock:
            if self._rule is not None and self._rule[0] is cells:
                return self._rule[1]
        with self.lock:
            previous = self._rule[1] if self._rule is not None else None
        rule = Disclosure(cells, previous=previous)  # a live update: most decisions stand
        with self.lock:
            self._rule = (cells, rule)
        return rule

    def answer(self, key: Hashable, view: Any) -> str | None:
        """The answer serialised for `key` from this very view, if any."""
        with self.lock:
            found = self.answers.get(key)
            if found is None or found[0] is not view:
                return None
            self.answers.move_to_end(key)
            return found[1]

    def remember_answer(self, key: Hashable, view: Any, body: str) -> None:
        with self.lock:
            self.answers[key] = (view, body)
            self.answers.move_to_end(key)
            _bounded(self.answers, ANSWERS_KEEP)

    def group(self, key: Hashable, cells: tuple[Cell, ...]) -> str | None:
        """A group's figures as JSON text, while the group holds the very same cells."""
        with self.lock:
            found = self.groups.get(key)
            if found is not None and all(a is b for a, b in zip(found[0], cells, strict=True)):
                self.groups.move_to_end(key)
                return found[1]
        return None

    def remember_group(self, key: Hashable, cells: tuple[Cell, ...], figures: str) -> None:
        with self.lock:
            # Holding the cells keeps their ids from being reused by other objects.
            self.groups[key] = (cells, figures)
            _bounded(self.groups, GROUPS_KEEP)

    def weighted(self, strata: Sequence[tuple[StratumKey, Cell]], minimum_wage: int | None,
                 channels: tuple[str, ...] = JOB_SEARCH_CHANNELS, *,
                 group: tuple[CellKey, ...]) -> WeightedSums:
        """The weighted sums of a group's strata (`indicators.WeightedSums`), updated by the
        difference of the strata that changed (`weighted_sums_replaced`, exact: integers
        over a common denominator): after a live update the whole wave's weighted shares
        cost one stratum, not a thousand. `group`: the keys of the group's cells (a
        gender's strata have the same keys as the whole wave's, not the same cells).
        `channels`: the job-search channels of the wave's questionnaire mapping."""
        key = (minimum_wage, channels, group)
        parts = tuple(stratum for _, stratum in strata)
        with self.lock:
            previous = self._weighted.get(key)
        changed = ([index for index, (a, b) in enumerate(zip(previous[0], parts, strict=True))
                    if a is not b] if previous is not None else None)
        if changed is not None and len(changed) * _REPLACE_SHARE <= len(parts):
            sums = (previous[1] if not changed else weighted_sums_replaced(
                previous[1], (previous[0][index] for index in changed),
                (parts[index] for index in changed), minimum_wage, channels))
        else:
            sums = weighted_sums(parts, minimum_wage, channels)
        with self.lock:
            self._weighted[key] = (parts, sums)
            self._weighted.move_to_end(key)
            _bounded(self._weighted, WEIGHTED_KEEP)
        return sums

    def merged(self, parts: Sequence[Cell], *, group: tuple[CellKey, ...] = ()) -> Cell:
        """The sum of cells (a stratum's, a selection's total), reused while its parts are
        the very same objects; a sum whose parts changed in a few places is the previous
        sum of as many parts in the same group with the difference applied
        (`cells.replaced`): after a live update the whole wave's total costs one cell, not
        650,000 income-table entries. `group`: the keys of the cells of the group being
        computed (the whole wave's total and a gender's have as many parts, and nothing
        else in common)."""
        parts = tuple(parts)
        if len(parts) == 1:
            # The sum of one cell is that cell (readers never change a cell): a gender's
            # thousand strata hold one cell each, and caching them cost more than this.
            return parts[0]
        key = tuple(map(id, parts))
        size = (group, len(parts))
        with self.lock:
            found = self._merges.get(key)
            if found is not None and all(a is b for a, b in zip(found[0], parts, strict=True)):
                self._merges.move_to_end(key)
                return found[1]
            previous = self._last_merge.get(size)
        changed = ([index for index, (a, b) in enumerate(zip(previous[0], parts, strict=True))
                    if a is not b] if previous is not None else None)
        if changed is not None and len(changed) * _REPLACE_SHARE <= len(parts):
            total = replaced(previous[1], (previous[0][index] for index in changed),
                             (parts[index] for index in changed))
        else:
            total = merge(parts)
        with self.lock:
            self._merges[key] = self._last_merge[size] = (parts, total)
            self._last_merge.move_to_end(size)
            for entries in (self._merges, self._last_merge):
                _bounded(entries, MERGES_KEEP)
        return total


@dataclass
class _Kept:
    version: tuple[Any, Hashable]  # (the snapshot view read with, what else it depends on)
    value: Any
    seconds: float  # what computing it took
    finished_at: float  # time.monotonic() when it was kept
    refreshing: bool = False


class KeptReads:
    """Reads of the tables that are too slow to redo in a request on a large wave, kept per
    (database, wave, query) across snapshots: the AAPOR rates (7 s at 1M responses; every
    live update makes a new snapshot view).

    A read is fresh for the snapshot view it was made with (compared by identity, as every
    entry here) and a version of what else it reads (the newest contact attempt). When it is
    not fresh: if computing it took at most `sync_seconds` (every wave a centre runs), it is
    computed again in the request, so a change shows at once; if it took longer, the kept
    value is answered and one background thread computes the fresh one with its own
    session, which later requests then find. So that the database is not kept reading
    without pause while changes keep coming, a background read starts only once the kept
    value has rested `rest_factor` times what it took: a value is at most about
    (1 + rest_factor) computations older than the latest change (at 1M responses, 7 s a
    read: half a minute), and the reads take at most a quarter of the database's time.
    """

    def __init__(self, sync_seconds: float = 0.25, rest_factor: float = 3.0) -> None:
        self.sync_seconds = sync_seconds
        self.rest_factor = rest_factor
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()

    def read(self, session: Session, key: Hashable, view: Any, version: Hashable,
             compute: Callable[[Session], Any]) -> Any:
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.version[0] is view and kept.version[1] == version:
                return kept.value
            slow = kept is not None and kept.seconds > self.sync_seconds
            rested = slow and (time.monotonic() - kept.finished_at
                               >= kept.seconds * self.rest_factor)
            if rested and not kept.refreshing:
                kept.refreshing = True
                threading.Thread(target=self._refresh, name="jejak-kept-read", daemon=True,
                                 args=(session.get_bind(), key, view, version, compute)).start()
            if slow:
                return kept.value
        return self._compute(session, key, view, version, compute)

    def _compute(self, session: Session, key: Hashable, view: Any, version: Hashable,
                 compute: Callable[[Session], Any]) -> Any:
        started = time.perf_counter()
        value = compute(session)
        with self._lock:
            self._kept[key] = _Kept((view, version), value, time.perf_counter() - started,
                                    time.monotonic())
            self._kept.move_to_end(key)
            _bounded(self._kept, ANSWERS_KEEP)
        return value

    def _refresh(self, bind: Any, key: Hashable, view: Any, version: Hashable,
                 compute: Callable[[Session], Any]) -> None:
        try:
            with Session(bind=bind) as session:
                self._compute(session, key, view, version, compute)
        except Exception:  # the kept value stays; the next request tries again
            log.warning("could not read %r again in the background", key, exc_info=True)
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None:
                    kept.refreshing = False

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


class IndicatorCache:
    """The parsed snapshots (`snapshots.read_snapshot`) and the `SnapshotEntries` of each
    wave's current snapshot, per (database, wave), and the `KeptReads`."""

    def __init__(self) -> None:
        self.warmed = threading.Event()  # set once a background warm is done (snapshots)
        self._lock = threading.Lock()
        self._parsed: dict[WaveKey, Any] = {}
        self._entries: dict[WaveKey, SnapshotEntries] = {}
        self.kept_reads = KeptReads()

    def parsed(self, wave: WaveKey) -> Any | None:
        """What `snapshots` parsed of the wave's newest snapshot (its `_Parsed`)."""
        with self._lock:
            return self._parsed.get(wave)

    def keep_parsed(self, wave: WaveKey, parsed: Any) -> None:
        with self._lock:
            self._parsed[wave] = parsed

    def forget_parsed(self, wave: WaveKey) -> None:
        with self._lock:
            self._parsed.pop(wave, None)

    def entries(self, wave: WaveKey, snapshot_id: int) -> SnapshotEntries:
        """What is kept for this snapshot of the wave; another snapshot's go."""
        with self._lock:
            current = self._entries.get(wave)
            if current is None or current.snapshot_id != snapshot_id:
                current = self._entries[wave] = SnapshotEntries(snapshot_id)
            return current

    def snapshot_ids(self) -> dict[WaveKey, int]:
        """The snapshot each wave's entries belong to (what tests look at)."""
        with self._lock:
            return {wave: entries.snapshot_id for wave, entries in self._entries.items()}

    def clear(self) -> None:
        """Forget everything: the next read of every wave parses its snapshot again."""
        with self._lock:
            self._parsed.clear()
            self._entries.clear()
        self.kept_reads.clear()


def install(app: Flask) -> IndicatorCache:
    """The app's cache, made on first use (analytics' create_app)."""
    return app.extensions.setdefault(EXTENSION, IndicatorCache())


def of_app() -> IndicatorCache | None:
    """The current app's cache; None outside an app or in an app without one."""
    if not has_app_context():
        return None
    return current_app.extensions.get(EXTENSION)


def kept_read(session: Session, key: Hashable, view: Any, version: Hashable,
              compute: Callable[[Session], Any]) -> Any:
    """`KeptReads.read` of the current app's cache; outside an app, computed now."""
    cache = of_app()
    if cache is None:
        return compute(session)
    return cache.kept_reads.read(session, key, view, version, compute)


def entries_of(wave: WaveKey, snapshot_id: int) -> SnapshotEntries:
    """What the current app keeps for this snapshot of the wave; outside an app (or in one
    without a cache) entries that are kept for the caller only."""
    cache = of_app()
    return (cache.entries(wave, snapshot_id) if cache is not None
            else SnapshotEntries(snapshot_id))
