"""Covering designs: every pair of levels of two factors in some row, in few rows.

The full product of ``k`` factors grows as the product of their sizes; a
design of strength 2 (pairwise) grows as the product of the two largest.
:func:`pairwise` builds one by in-parameter-order (IPO): the full product of
the two largest factors, then each further factor added as a column whose
levels are chosen to cover the most pairs not yet covered, and rows added for
the pairs still missing. The result is deterministic: the same factors give
the same rows, so a failing case keeps its id from run to run.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

__all__ = ["covers_every_pair", "pairwise"]

_FREE: Any = object()  # a cell no pair needs yet, filled in at the end


def pairwise(*factors: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows (one level per factor, in the order given) covering every pair of levels.

    Every factor needs at least one level. With fewer than two factors the
    rows are the full product.
    """
    if any(len(levels) == 0 for levels in factors):
        raise ValueError("every factor needs at least one level")
    if len(factors) < 3:
        return list(itertools.product(*factors))
    # Largest first: their product is the least any design needs, and IPO starts from it.
    order = sorted(range(len(factors)), key=lambda i: -len(factors[i]))
    sizes = [len(factors[i]) for i in order]
    rows: list[list[Any]] = [list(p) for p in itertools.product(range(sizes[0]), range(sizes[1]))]
    for col in range(2, len(sizes)):
        missing = {
            (prev, a, b)
            for prev in range(col)
            for a in range(sizes[prev])
            for b in range(sizes[col])
        }
        # Horizontal growth: a level for this column in each existing row.
        for n, row in enumerate(rows):
            best, best_gain = 0, -1
            for shift in range(sizes[col]):
                level = (n + shift) % sizes[col]  # rotate ties over the levels
                gain = sum(
                    (prev, row[prev], level) in missing
                    for prev in range(col)
                    if row[prev] is not _FREE
                )
                if gain > best_gain:
                    best, best_gain = level, gain
            row.append(best)
            missing -= {(prev, row[prev], best) for prev in range(col)}
        # Vertical growth: the pairs still missing, packed into as few new rows as fit.
        added: list[list[Any]] = []
        for prev, a, b in sorted(missing):
            for row in added:
                if row[col] == b and row[prev] is _FREE:
                    row[prev] = a
                    break
            else:
                row = [_FREE] * (col + 1)
                row[prev], row[col] = a, b
                added.append(row)
        rows.extend(added)
    # A free cell covers nothing new: any level will do; rotate them for spread.
    for n, row in enumerate(rows):
        for col, value in enumerate(row):
            if value is _FREE:
                row[col] = n % sizes[col]
    result: list[tuple[Any, ...]] = []
    for row in rows:
        by_factor = dict(zip(order, row, strict=True))
        result.append(tuple(factors[i][by_factor[i]] for i in range(len(factors))))
    return result


def covers_every_pair(rows: Sequence[Sequence[Any]], *factors: Sequence[Any]) -> bool:
    """Whether every pair of levels of every two of ``factors`` appears in some row."""
    seen = {
        (i, j, row[i], row[j])
        for row in rows
        for i, j in itertools.combinations(range(len(factors)), 2)
    }
    return all(
        (i, j, a, b) in seen
        for i, j in itertools.combinations(range(len(factors)), 2)
        for a in factors[i]
        for b in factors[j]
    )
