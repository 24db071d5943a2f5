"""The small-group rule (`services.analytics.disclosure`) on hand-built and random cells.

Soundness is checked exactly (`tests.small_groups`): from every group the rule shows, no
set of cells holding 1 to 4 people can be worked out by adding and subtracting groups.
"""

from __future__ import annotations

import random
from itertools import product

from services.analytics.cells import Cell, CellKey
from services.analytics.disclosure import THRESHOLD, Disclosure
from services.analytics.indicators import SMALL_N, compute
from tests.small_groups import numbers_in, small_sets


def cell(respondents: int, refusal: int = 0, employed: int = 0) -> Cell:
    return Cell(respondents=respondents, refusal=refusal,
                status={1: employed, 5: respondents - employed} if respondents else {})


def lattice(keys: list[CellKey]) -> set[frozenset[CellKey]]:
    """Every group a filter of program, cohort and gender (each optional) can select."""
    groups = set()
    for mask in product((False, True), repeat=3):
        chosen: dict[tuple[object, ...], set[CellKey]] = {}
        for key in keys:
            chosen.setdefault(tuple(value if keep else None
                                    for keep, value in zip(mask, key, strict=True)),
                              set()).add(key)
        groups |= {frozenset(group) for group in chosen.values()}
    return groups


def shown_groups(cells: list[tuple[CellKey, Cell]], base: str = "respondents",
                 ) -> set[frozenset[CellKey]]:
    rule = Disclosure(cells)
    return {group for group in lattice([key for key, _ in cells])
            if not rule.hidden(group, base)}


def test_the_threshold_is_small_n() -> None:
    assert THRESHOLD == SMALL_N == 5


def test_one_woman_in_her_cohort_and_every_group_that_would_give_her_away_are_hidden() -> None:
    # Program 1: cohort 10 has 9 men and 1 woman; cohort 11 has 6 and 6. Program 2: 7 and 8.
    cells = [(CellKey(1, 10, "L"), cell(9)), (CellKey(1, 10, "P"), cell(1)),
             (CellKey(1, 11, "L"), cell(6)), (CellKey(1, 11, "P"), cell(6)),
             (CellKey(2, 20, "L"), cell(7)), (CellKey(2, 20, "P"), cell(8))]
    shown = shown_groups(cells)

    def keys(*wanted: tuple[int, int, str]) -> frozenset[CellKey]:
        return frozenset(CellKey(*key) for key in wanted)

    # Her cohort, her program and the wave stay; every split by gender that holds her
    # (her cohort's, her program's, the wave's) is hidden: each minus the men, or the men
    # of the wave minus the other men, would be her.
    assert keys((1, 10, "L"), (1, 10, "P")) in shown
    assert keys((1, 10, "P")) not in shown and keys((1, 10, "L")) not in shown
    assert keys((1, 10, "L"), (1, 11, "L")) not in shown
    assert keys((1, 10, "L"), (1, 11, "L"), (2, 20, "L")) not in shown
    assert keys((1, 10, "P"), (1, 11, "P"), (2, 20, "P")) not in shown
    # Groups of which she is not a part keep their figures.
    assert keys((1, 11, "P")) in shown and keys((2, 20, "L")) in shown
    assert frozenset(key for key, _ in cells) in shown
    assert small_sets({key: (c.respondents, c.targets) for key, c in cells}, shown) == []


def test_the_wave_s_men_and_women_stay_when_they_single_out_no_one() -> None:
    # No cohort can be split (each has a gender below 5, or is split and known), yet the
    # wave's men minus cohort 3's men is the men of cohorts 1 and 2 (12), its women 9.
    cells = [(CellKey(1, 1, "L"), cell(9)), (CellKey(1, 1, "P"), cell(1)),
             (CellKey(1, 2, "L"), cell(3)), (CellKey(1, 2, "P"), cell(8)),
             (CellKey(2, 3, "L"), cell(6)), (CellKey(2, 3, "P"), cell(6))]
    shown = shown_groups(cells)
    men = frozenset(key for key, _ in cells if key.gender == "L")
    assert men in shown and frozenset(key for key, _ in cells) - men in shown
    assert frozenset({CellKey(1, 1, "L"), CellKey(1, 2, "L")}) not in shown  # program 1's
    assert small_sets({key: (c.respondents, c.targets) for key, c in cells}, shown) == []
    # With cohort 2's women down to 3, the women of the unsplit cohorts are 4: hidden.
    cells[3] = (CellKey(1, 2, "P"), cell(3))
    assert men not in shown_groups(cells)


def test_a_small_program_takes_its_smallest_shown_sibling_with_it() -> None:
    # The wave minus program 1 would be program 2's 2 respondents: program 1 (6) is hidden
    # too (it holds fewer than program 3's 9), and the wave stays.
    cells = [(CellKey(1, 10, "L"), cell(6)), (CellKey(2, 20, "L"), cell(2)),
             (CellKey(3, 30, "L"), cell(9))]
    shown = shown_groups(cells)
    assert frozenset({CellKey(2, 20, "L")}) not in shown
    assert frozenset({CellKey(1, 10, "L")}) not in shown
    assert frozenset({CellKey(3, 30, "L")}) in shown
    assert frozenset(key for key, _ in cells) in shown


def test_a_group_without_respondents_but_with_few_targets_is_protected_as_well() -> None:
    # Program 2's 3 targets all refused: the wave minus program 1 would say so.
    cells = [(CellKey(1, 10, "L"), cell(8)), (CellKey(2, 20, "L"), cell(0, refusal=3))]
    shown = shown_groups(cells)
    assert frozenset({CellKey(1, 10, "L")}) not in shown
    assert small_sets({key: (c.respondents, c.targets) for key, c in cells}, shown) == []


def test_no_set_of_fewer_than_five_can_be_worked_out_from_random_rosters() -> None:
    rng = random.Random(2026)
    for _ in range(400):
        cells: list[tuple[CellKey, Cell]] = []
        cohort = 0
        for program in range(rng.randint(1, 3)):
            for _cohort in range(rng.randint(1, 3)):
                cohort += 1
                for gender in "LP":
                    if rng.random() < 0.15:
                        continue
                    respondents = rng.choice((0, 1, 1, 2, 3, 4, 5, 6, 8, 12))
                    employed = rng.randint(0, respondents)
                    cells.append((CellKey(program, cohort, gender),
                                  cell(respondents, refusal=rng.randint(0, 3),
                                       employed=employed)))
        cells = cells[:12]
        if not cells:
            continue
        by_key = dict(cells)
        for base, size in (("respondents", lambda c: (c.respondents, c.targets)),
                           ("employed", lambda c: (c.employed, c.employed))):
            shown = shown_groups(cells, base)
            assert all(sum(size(by_key[key])[0] for key in group) >= THRESHOLD
                       for group in shown), cells
            assert small_sets({key: size(c) for key, c in cells}, shown) == [], cells


def test_a_hidden_group_keeps_its_shape_and_no_number_and_a_shown_one_is_unchanged() -> None:
    cells = [(CellKey(1, 10, "L"), cell(9, employed=4)), (CellKey(1, 10, "P"), cell(1)),
             (CellKey(1, 11, "L"), cell(6, employed=6))]
    rule = Disclosure(cells)
    woman = [cells[1]]
    figures = compute(woman, minimum_wage=3_000_000)
    hidden = rule.suppress(figures, [key for key, _ in woman])
    assert set(hidden) == set(figures) | {"suppressed"}
    assert hidden["suppressed"] is True and hidden["small_n"] is True
    assert numbers_in(hidden, skip=frozenset({"minimum_wage"})) == []
    assert hidden["absorption_rate"]["suppressed"] is True
    assert hidden["minimum_wage"] == 3_000_000  # a setting, not a figure about anyone
    everyone = compute(cells, minimum_wage=3_000_000)
    shown = rule.suppress(everyone, [key for key, _ in cells])
    assert "suppressed" not in shown
    assert shown["absorption_rate"] is everyone["absorption_rate"]
    # Employed 10: their figures show; 4 employed in cohort 10 would not.
    assert shown["job_search_channels"] == everyone["job_search_channels"]


def test_a_rule_built_on_the_previous_one_decides_as_a_fresh_one_and_keeps_what_did_not_move(
        ) -> None:
    # A live update changes one cell; the rule of the new view is built on the old one's,
    # and the next on that one (a chain of views, as the API sees a day of live updates).
    # Whatever changed, every decision equals a fresh rule's; a base whose counts per cell
    # did not move (with the whole groups' unchanged) keeps the old decision object.
    rng = random.Random(18)
    for _ in range(120):
        keys = [CellKey(program, program * 10 + cohort, gender)
                for program in range(1, rng.randint(2, 5))
                for cohort in range(rng.randint(1, 4)) for gender in "LP"]
        cells = [(key, cell(rng.choice((0, 1, 3, 5, 7)), refusal=rng.randint(0, 2),
                            employed=0)) for key in keys]
        cells = [(key, cell(c.respondents, c.refusal, rng.randint(0, c.respondents)))
                 for key, c in cells]
        old = Disclosure(cells)
        for _step in range(5):
            for base in rng.sample(("respondents", "employed"), rng.randint(0, 2)):
                old.hidden(frozenset(keys), base)  # decided, so kept (or not, at random)
            index = rng.randrange(len(cells))
            key, changed = cells[index]
            roll = rng.random()
            if roll < 0.4:  # an employed respondent's answer changed: the group stays
                moved = cell(changed.respondents, changed.refusal,
                             rng.randint(0, changed.respondents))
            elif roll < 0.8:  # a new respondent
                moved = cell(changed.respondents + 1, changed.refusal, changed.employed)
            else:  # answers withdrawn
                moved = cell(0, changed.refusal + 1, 0)
            cells = [*cells[:index], (key, moved), *cells[index + 1:]]
            built_on, fresh = Disclosure(cells, previous=old), Disclosure(cells)
            for base in ("respondents", "employed"):
                for group in lattice(keys):
                    assert built_on.hidden(group, base) == fresh.hidden(group, base), (
                        base, group)
            if (moved.respondents == changed.respondents and moved.targets == changed.targets
                    and moved.employed == changed.employed and "employed" in old._shown):
                assert built_on._shown["employed"] is old._shown["employed"]
            old = built_on
