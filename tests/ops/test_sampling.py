"""The covering design that samples the kinds of source, callable and backend: tests/covering.py."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from covering import covers_every_pair, pairwise


class TestPairwise:
    @given(sizes=st.lists(st.integers(1, 7), min_size=1, max_size=6))
    def test_every_pair_of_levels_is_covered(self, sizes: list[int]) -> None:
        """Whatever the factors, every pair of levels of two factors is in some row."""
        factors = [[f"{i}.{level}" for level in range(size)] for i, size in enumerate(sizes)]
        rows = pairwise(*factors)
        assert covers_every_pair(rows, *factors)
        assert all(len(row) == len(factors) for row in rows)
        assert all(row[i] in factors[i] for row in rows for i in range(len(factors)))

    def test_far_fewer_rows_than_the_product(self) -> None:
        """20 tests x 5 sources x 4 callables x 3 backends: 5 cases a test, not 60."""
        factors = [range(20), range(5), range(4), range(3)]
        rows = pairwise(*factors)
        assert len(rows) == 20 * 5
        assert sorted(test for test, *_ in rows) == sorted(list(range(20)) * 5)

    def test_deterministic(self) -> None:
        """The same factors give the same rows, so a case keeps its id from run to run."""
        factors = [["a", "b", "c"], [1, 2], [True, False], ["x", "y", "z"]]
        assert pairwise(*factors) == pairwise(*factors)

    def test_one_or_two_factors_give_the_full_product(self) -> None:
        """With fewer than three factors nothing can be left out."""
        assert pairwise("ab") == [("a",), ("b",)]
        assert pairwise("ab", "xy") == list(itertools.product("ab", "xy"))

    def test_a_factor_without_levels(self) -> None:
        """A factor with no level is a mistake in the test, not an empty design."""
        with pytest.raises(ValueError, match="level"):
            pairwise("ab", "", "xy")

    def test_covers_every_pair_sees_a_missing_pair(self) -> None:
        """The checker itself: a design without one pair is not covering."""
        rows = [("a", 1, "x"), ("b", 2, "x"), ("a", 2, "y")]
        assert not covers_every_pair(rows, "ab", [1, 2], "xy")
