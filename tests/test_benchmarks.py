"""The benchmarks' own arithmetic (the measurements themselves run in `nox -s bench`)."""

from __future__ import annotations

from benchmarks.timing_agreement import flips


def test_a_flip_is_a_build_that_disagrees_with_the_majority():
    assert flips(["faster"] * 5) == 0
    assert flips(["faster", "within noise", "faster", "faster", "slower"]) == 2
    assert flips(["within noise", "faster"]) == 1
