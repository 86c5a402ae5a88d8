"""Sentences about speed follow the numbers: faster, slower, or within noise."""

from __future__ import annotations

import pytest

from d2l_compiler import Samples, compare, verdict


def _samples(name: str, *seconds: float) -> dict:
    return Samples(name, seconds).to_record()


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((1.0, 1.1, 1.2, 1.3), (2.0, 2.1, 2.2, 2.3), "faster"),
    ((2.0, 2.1, 2.2, 2.3), (1.0, 1.1, 1.2, 1.3), "slower"),
    ((1.0, 1.5, 2.0, 2.5), (1.2, 1.6, 1.9, 2.4), "within noise"),
    ((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), "within noise"),
])
def test_verdict(a, b, expected):
    assert verdict(_samples("a", *a), _samples("b", *b)) == expected


def test_sentence_names_the_faster_path_and_ratio():
    text = compare(_samples("慢", 2.0, 2.0, 2.0), _samples("快", 1.0, 1.0, 1.0))
    assert "“快”更快" in text and "2.00 倍" in text


def test_sentence_within_noise_claims_nothing():
    text = compare(_samples("a", 1.0, 1.2, 1.4), _samples("b", 1.1, 1.3, 1.5))
    assert "更快" not in text.replace("哪一个更快", "")
    assert "测量波动之内" in text


def test_not_samples_is_an_error():
    with pytest.raises(ValueError, match="not a samples record"):
        verdict({"seconds": 1.0}, _samples("b", 1.0))
