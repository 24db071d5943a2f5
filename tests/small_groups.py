"""What a viewer can work out from the groups shown to them: exact linear algebra, test side.

Every figure the analytics service shows of a group is a sum over the group's cells (program
× cohort × gender), or a function of such sums. A viewer who sees some groups therefore
knows the sums of every set of cells whose indicator vector is a linear combination of
theirs (e.g. a cohort minus its men: its women). `small_sets` finds every set of cells with
1 to 4 people in the base (or none in it and 1 to 4 targets) that can be worked out so,
by Gaussian elimination over the rationals: no rounding, no sampling.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction

THRESHOLD = 5


def _reduce(vector: list[Fraction], basis: Sequence[tuple[int, list[Fraction]]]
            ) -> list[Fraction]:
    for pivot, row in basis:
        if vector[pivot]:
            factor = vector[pivot] / row[pivot]
            vector = [a - factor * b for a, b in zip(vector, row, strict=True)]
    return vector


def span(vectors: Iterable[Sequence[int]]) -> list[tuple[int, list[Fraction]]]:
    """An echelon basis of the vectors' span: (pivot index, row)."""
    basis: list[tuple[int, list[Fraction]]] = []
    for vector in vectors:
        reduced = _reduce([Fraction(value) for value in vector], basis)
        pivot = next((index for index, value in enumerate(reduced) if value), None)
        if pivot is not None:
            basis.append((pivot, reduced))
    return basis


def in_span(basis: Sequence[tuple[int, list[Fraction]]], vector: Sequence[int]) -> bool:
    return not any(_reduce([Fraction(value) for value in vector], basis))


def small_sets(sizes: Mapping[Hashable, tuple[int, int]],
               shown: Iterable[Iterable[Hashable]]) -> list[frozenset[Hashable]]:
    """Sets of cells holding too few that a viewer of the `shown` groups can work out.

    `sizes`: each cell's (base n, targets). A set is too small when its base n is 1 to 4,
    or 0 with 1 to 4 targets (their dispositions)."""
    cells = sorted(sizes, key=repr)
    position = {cell: index for index, cell in enumerate(cells)}
    basis = span([[1 if cell in group else 0 for cell in cells]
                  for group in {frozenset(group) for group in shown}])
    # A set holding fewer than 5 in the base holds only cells holding fewer than 5.
    candidates = [cell for cell in cells if sizes[cell][0] < THRESHOLD]
    found: list[frozenset[Hashable]] = []

    def extend(start: int, chosen: list[Hashable], n: int, targets: int) -> None:
        if chosen and (0 < n < THRESHOLD or (n == 0 and 0 < targets < THRESHOLD)):
            vector = [0] * len(cells)
            for cell in chosen:
                vector[position[cell]] = 1
            if in_span(basis, vector):
                found.append(frozenset(chosen))
        for index in range(start, len(candidates)):
            cell = candidates[index]
            more_n, more_targets = sizes[cell]
            if n + more_n >= THRESHOLD:
                continue
            extend(index + 1, [*chosen, cell], n + more_n, targets + more_targets)

    extend(0, [], 0, 0)
    return found


def numbers_in(node: object, *, skip: frozenset[str] = frozenset()) -> list[object]:
    """Every number (not a bool) in a JSON-like tree, except under the keys `skip`."""
    if isinstance(node, Mapping):
        return [number for key, value in node.items() if key not in skip
                for number in numbers_in(value)]
    if isinstance(node, list | tuple):
        return [number for value in node for number in numbers_in(value)]
    if isinstance(node, bool) or node is None or isinstance(node, str):
        return []
    return [node]
