"""The small-group rule: what a role below admin may see of a wave's figures.

One rule for the indicators API, the dashboard and every aggregate export (docs/indicators.md,
"Kelompok kecil"): a group of alumni, or one figure of a group, whose base n is below
`THRESHOLD` shows no number at all, and neither does anything from which such a number can
be worked out.

Every answer of the API, page of the dashboard and table of an export is about a *group*: the
targets matching a program / cohort / gender filter, or one group of a breakdown within it.
Whatever the query, such a group is one of the lattice built from the wave's cells:
(program or any) × (cohort or any) × (gender or any). A group is named by the set of its cell
keys, so two queries reaching the same alumni (a program with one cohort, and that cohort)
get the same decision. Every figure shown is a sum over cells (counts, sums behind means) or
a function of such sums, so one group's figure minus another's is the figure of their
difference: a viewer who may ask `?cohort=3` and `?cohort=3&gender=L` also knows the women
of cohort 3. The rule decides, per base (a group's respondents; each figure's own base, e.g. the
employed who answered f14), which groups are shown, so that every set of alumni whose
figures can be worked out from shown groups by adding and subtracting holds none in the
base or at least THRESHOLD (and, for the respondents' base, no set without respondents
but with 1 to 4 targets: their dispositions). The groups form a tree, wave → programs →
cohorts, each node split by gender:

1. Gender. A node's groups by gender (its men, its women) are shown only when every cell
   under it (cohort × gender) holds at least THRESHOLD; then every cell under it is known
   and fine. Such nodes form whole subtrees, so a cohort whose split is hidden has both its
   cells hidden in every group shown that separates them: the viewer can move any number
   of people between its men and its women without changing anything shown, and the two
   cells are only ever seen together.
2. The tree. A node's whole group is shown only when it holds at least THRESHOLD and its
   "uncovered part" (its people that no shown group below it accounts for: the parts of
   hidden children not covered further down) is empty or holds enough. The uncovered part
   is what the node minus its shown parts gives away. When it holds too few, the shown
   child holding the fewest is hidden with everything under it (its people join the
   uncovered part), so the wave's total is kept; when no child is left, the node itself.

Shown groups are then a laminar family (nested or disjoint) over units that are never told
apart (a cohort with a hidden split, or one known cell); sets that can be worked out from a
laminar family are unions of the uncovered parts of its shown groups and known cells, and
each of these holds none or enough: so does their union.

3. The wave's men and women. Beside that family, the whole wave's two gender groups add
   one dimension: a set worked out with them is, for some sign, the men (or the women) of
   every uncovered part that holds both men and women, together with whole parts holding
   one gender only (the coefficient of a part holding both must make its men and its women
   each 0 or 1). So they are shown when the wave is, and the men, and the women, of those
   mixed parts each hold enough (and each gender at least THRESHOLD in all).

`tests/unit/test_disclosure.py` checks this exactly, by linear algebra over the rationals,
on random rosters, and the viewer walk (`tests/integration/test_small_groups.py`) on
everything a viewer is shown.

A group hidden for its responses shows no figure at all (not even its targets or
dispositions); a figure hidden in a shown group keeps nothing but its shape. Both say
`"suppressed": true` and `"small_n": true`.

What is deliberately not covered: a shown group in which everyone gave the same answer says
that answer of each of its members (true of any published table), and a weighted share mixes
its strata non-linearly with weights N_h / n_h that are hidden for hidden strata.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.analytics.cells import COMPETENCIES, TRAINING_EVAL_ITEMS, Cell, CellKey
from services.analytics.decent import PRESET_NAMES
from services.analytics.indicators import SMALL_N

GENDERS = ("L", "P")

THRESHOLD = SMALL_N  # 5
GROUP = "respondents"
# The base of each figure that is not over the group's respondents, by where it sits in
# `indicators.compute`'s answer (the first key; for tables, "table.code").
_FIGURE_BASES: dict[str, str] = {
    "waiting_months_median": "waiting",
    "waiting_months_mean": "waiting",
    "waiting_bins": "waiting",
    "income_median": "income",
    "above_minimum_wage": "income",
    "minimum_wage_applied": "income",
    "relevance_share": "relevance",
    "local_absorption": "location",
    "certificate_share": "certificate",
    "job_search_channels": "employed",
    **{f"competency_gap.{a_key}": f"competency.{a_key}" for a_key, _ in COMPETENCIES},
    **{f"training_eval.{item}": f"training.{item}" for item in TRAINING_EVAL_ITEMS},
    **{f"decent_work.{name}": f"decent.{name}" for name in PRESET_NAMES},
}
_BASES: dict[str, Callable[[Cell], int]] = {
    GROUP: lambda cell: cell.respondents,
    "employed": lambda cell: cell.employed,
    "waiting": lambda cell: sum(cell.waiting_months.values()),
    "income": lambda cell: sum(cell.income.values()),
    "relevance": lambda cell: cell.relevance_answered,
    "location": lambda cell: cell.location_answered,
    "certificate": lambda cell: cell.certificate_answered,
    **{f"competency.{a_key}": (lambda cell, a_key=a_key: cell.competency_answered.get(a_key, 0))
       for a_key, _ in COMPETENCIES},
    **{f"training.{item}": (lambda cell, item=item: cell.training_eval_answered.get(item, 0))
       for item in TRAINING_EVAL_ITEMS},
    **{f"decent.{name}": (lambda cell, name=name: cell.decent_n.get(name, 0))
       for name in PRESET_NAMES},
}
# Not figures about people: the configuration the figures were computed with, and which
# indicators the questionnaire does not collect.
_SETTINGS = frozenset({"minimum_wage", "fpc", "not_collected"})


def _bases_of(cells: Iterable[Cell]) -> tuple[dict[str, Callable[[Cell], int]],
                                              dict[str, str]]:
    """The bases and figure bases of these cells: blk-tracer v1's, and a base for each
    competency and training aspect another questionnaire's mapping names (those a cell
    has a count of; one that no cell has a count of has n = 0 everywhere, nothing to hide)."""
    competencies: set[str] = set()
    aspects: set[str] = set()
    for cell in cells:
        competencies.update(cell.competency_answered)
        aspects.update(cell.training_eval_answered)
    known_competencies = {a_key for a_key, _ in COMPETENCIES}
    known_aspects = set(TRAINING_EVAL_ITEMS)
    bases = dict(_BASES)
    figure_bases = dict(_FIGURE_BASES)
    for name in sorted(competencies - known_competencies):
        bases[f"competency.{name}"] = (
            lambda cell, name=name: cell.competency_answered.get(name, 0))
        figure_bases[f"competency_gap.{name}"] = f"competency.{name}"
    for item in sorted(aspects - known_aspects):
        bases[f"training.{item}"] = (
            lambda cell, item=item: cell.training_eval_answered.get(item, 0))
        figure_bases[f"training_eval.{item}"] = f"training.{item}"
    return bases, figure_bases


class _Node:
    """A program, a cohort or the whole wave: its cells, and its parts in the tree."""

    __slots__ = ("cells", "children", "genders", "parent", "whole")

    def __init__(self, parent: _Node | None = None) -> None:
        self.parent = parent
        self.cells: list[CellKey] = []
        self.children: list[_Node] = []
        self.whole: frozenset[CellKey] = frozenset()  # the node's group
        self.genders: tuple[frozenset[CellKey], ...] = ()  # its groups by gender

    def seal(self) -> None:
        self.whole = frozenset(self.cells)
        self.genders = tuple(frozenset(key for key in self.cells if key.gender == value)
                             for value in GENDERS)


class Disclosure:
    """Which groups of these cells, and which of their figures, a role below admin sees.

    Built once per set of cells (a snapshot view); `suppress` then applies the decision to
    the figures of any group of them.

    `previous`: the rule of the view this one replaces (a live update changed a cell). A
    decision is a function of the lattice (the cells' keys, in order), the targets and the
    respondents per cell, and its base's count per cell: when all of these are equal, the
    previous decision is the decision, and is taken as it is instead of walked again (at 1M
    responses a walk of 2,000 cells costs ~18 ms per base, and one changed answer moves the
    counts of a few bases only).
    """

    def __init__(self, cells: Iterable[tuple[CellKey, Cell]],
                 previous: Disclosure | None = None) -> None:
        keyed = list(cells)
        self._cells = dict(keyed)  # what a rule built on this one compares its cells with
        self._targets = {key: cell.targets for key, cell in keyed}
        same_lattice = previous is not None and list(previous._targets) == list(self._targets)
        if same_lattice:
            assert previous is not None
            # Sealed and never changed: shared.
            self._root, self._nodes, self._leaf = previous._root, previous._nodes, previous._leaf
        else:
            self._root, self._nodes, self._leaf = self._lattice(keyed)
        self._bases, self._figure_bases = _bases_of(cell for _, cell in keyed)
        # The counts of a cell the previous rule had (the very same object) are its counts:
        # only the changed cells are counted again, and a base none of them moved keeps the
        # previous rule's very dict (never changed once made).
        known = previous._cells if same_lattice and previous is not None else {}
        earlier = previous._per_cell if same_lattice and previous is not None else {}
        changed = [(key, cell) for key, cell in keyed if known.get(key) is not cell]
        self._per_cell: dict[str, dict[CellKey, int]] = {}
        for base, count in self._bases.items():
            if base in earlier:
                counts = earlier[base]
                moved = [(key, count(cell)) for key, cell in changed]
                if any(counts[key] != value for key, value in moved):
                    counts = {**counts, **dict(moved)}
            else:
                counts = {key: count(cell) for key, cell in keyed}
            self._per_cell[base] = counts
        self._shown: dict[str, frozenset[frozenset[CellKey]]] = {}
        self._complete: dict[str, frozenset[frozenset[CellKey]]] | None = None
        # Each base's walk of the tree (`_Walk`): a later rule on the same lattice walks
        # again only the nodes above a cell whose counts moved.
        self._walks: dict[str, _Walk] = {}
        self._earlier_walks = previous._walks if same_lattice and previous is not None else {}
        self._lock = threading.Lock()
        if same_lattice and previous is not None:
            self._shown = previous._decisions_still_true(self)
            with previous._lock:  # a kept decision's walk is this rule's walk as well
                self._walks = {base: walk for base, walk in previous._walks.items()
                               if base in self._shown}

    def _lattice(self, keyed: list[tuple[CellKey, Cell]],
                 ) -> tuple[_Node, list[_Node], dict[CellKey, _Node]]:
        """The tree (wave, programs, cohorts), its nodes with parents before their
        children, and each cell's cohort."""
        root = _Node()
        programs: dict[int, _Node] = {}
        cohorts: dict[tuple[int, int], _Node] = {}
        leaf: dict[CellKey, _Node] = {}
        for key, _cell in keyed:
            program = programs.get(key.program_id)
            if program is None:
                program = programs[key.program_id] = _Node(root)
                root.children.append(program)
            cohort = cohorts.get((key.program_id, key.cohort_id))
            if cohort is None:
                cohort = cohorts[key.program_id, key.cohort_id] = _Node(program)
                program.children.append(cohort)
            leaf[key] = cohort
            for node in (root, program, cohort):
                node.cells.append(key)
        nodes = [root]
        for node in nodes:
            nodes.extend(node.children)
        for node in nodes:
            node.seal()
        return root, nodes, leaf

    def _decisions_still_true(self, new: Disclosure) -> dict[str, frozenset[frozenset[CellKey]]]:
        """The decisions of this rule that `new` (same lattice) would make again: every
        base's whose counts per cell are unchanged, provided the whole groups' are."""
        if (self._targets != new._targets
                or self._per_cell.get(GROUP) != new._per_cell.get(GROUP)):
            return {}
        with self._lock:
            decided = dict(self._shown)
        return {base: shown for base, shown in decided.items()
                if base in new._per_cell and self._per_cell.get(base) == new._per_cell[base]}

    def hidden(self, keys: Iterable[CellKey], base: str = GROUP) -> bool:
        """Whether the figures over `base` of the group of these cells are suppressed. A
        set of cells that is no group of the lattice (none: a filter matching nobody) is."""
        group = frozenset(keys)
        return group not in self._shown_of(GROUP) or group not in self._shown_of(base)

    def decision(self, keys: Iterable[CellKey]) -> tuple[str, ...]:
        """What is hidden of this group: (GROUP,) for everything, else the bases of its
        hidden figures (empty: nothing). Equal decisions give equal answers."""
        group = frozenset(keys)
        shown = self._every_base()
        if group not in shown[GROUP]:
            return (GROUP,)
        return tuple(base for base, groups in shown.items() if group not in groups)

    def _every_base(self) -> dict[str, frozenset[frozenset[CellKey]]]:
        """Every base's decision, in `_bases` order (a breakdown by cohort asks a thousand
        groups about each base)."""
        complete = self._complete
        if complete is None:
            complete = {base: self._shown_of(base) for base in self._bases}
            self._complete = complete
        return complete

    def suppress(self, indicators: Mapping[str, Any],
                 keys: Iterable[CellKey]) -> dict[str, Any]:
        """A copy of one group's figures (`indicators.compute` of exactly these cells) as a
        role below admin sees them. Shown figures are the very same objects."""
        hidden = self.decision(keys)
        if GROUP in hidden:
            return _blank(indicators, top=True)
        shown = dict(indicators)
        for path, base in self._figure_bases.items():
            if base not in hidden:
                continue
            name, _, code = path.partition(".")
            if code:
                if code not in shown.get(name, {}):
                    continue  # a competency or aspect this questionnaire does not name
                shown[name] = {**shown[name], code: _blank(shown[name][code])}
            else:
                shown[name] = _blank(shown[name])
        return shown

    def _shown_of(self, base: str) -> frozenset[frozenset[CellKey]]:
        with self._lock:
            found = self._shown.get(base)
        if found is None:
            allowed = None if base == GROUP else self._shown_of(GROUP)
            found = self._decide(base, allowed)
            with self._lock:
                self._shown[base] = found
        return found

    def _decide(self, base: str, allowed: frozenset[frozenset[CellKey]] | None,
                ) -> frozenset[frozenset[CellKey]]:
        """The groups whose figures over `base` are shown; `allowed`: the groups shown at
        all (None: this is the decision for whole groups)."""
        size = self._per_cell[base]
        # Who a group holds besides its base: a group without respondents still says who
        # refused or could not be reached.
        holding = self._targets if base == GROUP else size
        walk = _Walk(size, holding, allowed, self._earlier_walks.get(base), self._leaf)
        walk.visit(self._root)
        with self._lock:
            self._walks[base] = walk
        return walk.groups(self._root, self._nodes)


class _Walk:
    """One base's decision, node by node, kept so that the next rule walks again only the
    nodes above a changed cell.

    Per node, what its own visit decided (`split`: its groups by gender shown, so every
    cell under it; `shown`: its whole group; `private`: a shown node's uncovered part; the
    part it hands its parent) and which of its children its visit hid, with everything
    under them. A node's visit reads only the counts of the cells under it, what its
    children's visits decided, and `allowed`: so a node none of whose cells moved, with the
    same `allowed`, decides as it did, and so does every node under it. What is finally
    shown is a node's own decision unless a node above it hid it.

    The walk of one base at 1M responses (2,000 cells, 1,041 nodes) costs ~18 ms; after a
    live update changed one cell, the three nodes above it cost well under a millisecond.
    """

    __slots__ = ("allowed", "fine", "handed", "hid", "holding", "private", "shown",
                 "size", "split", "sums", "_dirty")

    def __init__(self, size: Mapping[CellKey, int], holding: Mapping[CellKey, int],
                 allowed: frozenset[frozenset[CellKey]] | None, earlier: _Walk | None,
                 leaf: Mapping[CellKey, _Node]) -> None:
        self.size, self.holding, self.allowed = size, holding, allowed
        self._dirty: set[int] | None = None  # None: every node is walked
        if earlier is not None and (earlier.allowed is allowed or earlier.allowed == allowed):
            dirty: set[int] = set()
            for key in _moved(earlier.size, size) | _moved(earlier.holding, holding):
                node: _Node | None = leaf[key]
                while node is not None and id(node) not in dirty:
                    dirty.add(id(node))
                    node = node.parent
            self._dirty = dirty
            self.sums, self.fine = dict(earlier.sums), dict(earlier.fine)
            self.split, self.shown = set(earlier.split), set(earlier.shown)
            self.private, self.handed = dict(earlier.private), dict(earlier.handed)
            self.hid = dict(earlier.hid)
        else:
            self.sums: dict[int, Part] = {}
            self.fine: dict[int, bool] = {}
            self.split: set[int] = set()
            self.shown: set[int] = set()
            self.private: dict[int, Part] = {}
            self.handed: dict[int, Part] = {}
            self.hid: dict[int, tuple[_Node, ...]] = {}

    def permitted(self, group: frozenset[CellKey]) -> bool:
        return not group or self.allowed is None or group in self.allowed

    def visit(self, node: _Node) -> Part:
        """Decide the node's subtree (again, if a cell under it moved); returns its
        uncovered part: what of it no shown group below it tells apart."""
        number = id(node)
        if self._dirty is not None and number not in self._dirty:
            return self.handed[number]
        parts = [self.visit(child) for child in node.children]
        size, holding = self.size, self.holding
        if node.children:
            total = _plus(*(self.sums[id(child)] for child in node.children))
            fine = all(self.fine[id(child)] for child in node.children)
        else:
            total = _plus(*(
                (size[key], holding[key], 0, 0) if key.gender == GENDERS[0]
                else (0, 0, size[key], holding[key]) for key in node.cells))
            fine = all(size[key] >= THRESHOLD for key in node.cells)
        self.sums[number], self.fine[number] = total, fine
        self.split.discard(number)
        self.shown.discard(number)
        self.private.pop(number, None)
        self.hid[number] = ()
        handed = self._decide_node(node, parts, total, fine)
        self.handed[number] = handed
        return handed

    def _decide_node(self, node: _Node, parts: list[Part], total: Part, fine: bool) -> Part:
        number, whole = id(node), node.whole
        if (fine and all(self.permitted(group) for group in node.genders)
                and all(id(child) in self.split for child in node.children)):
            self.split.add(number)
            if self.permitted(whole):
                self.shown.add(number)
            return _NOBODY
        uncovered = _plus(*parts) if node.children else total
        if not self.permitted(whole) or _total(total)[0] < THRESHOLD:
            return uncovered
        hidden: list[_Node] = []
        while _few(*_total(uncovered)):
            # The whole minus its shown parts would tell the rest: hide the shown part
            # holding the fewest, with everything under it.
            candidates = [(_total(self.sums[id(child)])[0], index, child)
                          for index, child in enumerate(node.children)
                          if child not in hidden
                          and (id(child) in self.shown or id(child) in self.split)]
            if not candidates:
                self.hid[number] = tuple(hidden)
                return uncovered  # nothing left to hide but the whole itself
            child = min(candidates, key=lambda item: item[:2])[2]
            hidden.append(child)
            uncovered = _plus(uncovered, self.sums[id(child)])
        self.hid[number] = tuple(hidden)
        self.shown.add(number)
        self.private[number] = uncovered
        return _NOBODY

    def groups(self, root: _Node, nodes: list[_Node]) -> frozenset[frozenset[CellKey]]:
        """The groups shown: each node's own decision unless a node above it hid it."""
        hidden: set[int] = set()
        groups: set[frozenset[CellKey]] = set()
        shown: set[int] = set()
        for node in nodes:  # parents before their children
            number = id(node)
            if number in hidden or (node.parent is not None and id(node.parent) in hidden):
                hidden.add(number)  # hidden by a node above it, with everything under it
                continue
            for child in self.hid.get(number, ()):
                hidden.add(id(child))
            if number in self.shown:
                shown.add(number)
                groups.add(node.whole)
            if number in self.split:
                groups.update(node.genders)
        # The wave's men and women beside the laminar family: the sets this adds to what can
        # be worked out are the men (or the women) of every uncovered part holding both,
        # with or without whole parts (see the module docstring). Shown when those hold
        # enough.
        if id(root) in shown and id(root) not in self.split and all(
                self.permitted(group) for group in root.genders):
            mixed = _plus(*(part for number, part in self.private.items() if number in shown
                            and part[0] + part[1] > 0 and part[2] + part[3] > 0))
            men, women = (mixed[0], mixed[1]), (mixed[2], mixed[3])
            everyone = self.sums[id(root)]
            if (not _few(*men) and not _few(*women)
                    and min(everyone[0], everyone[2]) >= THRESHOLD):
                groups.update(root.genders)
        groups.discard(frozenset())
        return frozenset(groups)


def _moved(before: Mapping[CellKey, int], after: Mapping[CellKey, int]) -> set[CellKey]:
    """The cells whose count differs (the same dict: none)."""
    if before is after:
        return set()
    return {key for key, value in after.items() if before[key] != value}


Part = tuple[int, int, int, int]  # base n and held of the men, then of the women
_NOBODY: Part = (0, 0, 0, 0)


def _plus(*parts: Part) -> Part:
    return (sum(part[0] for part in parts), sum(part[1] for part in parts),
            sum(part[2] for part in parts), sum(part[3] for part in parts))


def _total(part: Part) -> tuple[int, int]:
    return part[0] + part[2], part[1] + part[3]


def _few(n: int, held: int) -> bool:
    """Whether a set of alumni whose figures could be worked out holds too few: 1 to 4 in
    the base, or none in it but 1 to 4 targets (their dispositions)."""
    return 0 < n < THRESHOLD or (n == 0 and 0 < held < THRESHOLD)


def _blank(node: Any, *, top: bool = False) -> Any:
    """The same shape with every number about people gone."""
    if isinstance(node, Mapping):
        blank = {name: (value if name in _SETTINGS and top else _blank(value))
                 for name, value in node.items()}
        if "small_n" in node:
            blank["small_n"] = True
            blank["suppressed"] = True
        return blank
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return node
    return None
