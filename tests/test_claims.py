"""Sentences about speed follow the numbers: faster, slower, or within noise."""

from __future__ import annotations

import pytest

from d2l_compiler import Samples, compare, verdict
from conftest import FixtureSite  # noqa: F401 - the `site` fixture


def _samples(name: str, *seconds: float) -> dict:
    return Samples(name, seconds).to_record()


@pytest.mark.parametrize(("a", "b", "expected"), [
    ((1.0, 1.1, 1.2, 1.3), (2.0, 2.1, 2.2, 2.3), "faster"),
    ((2.0, 2.1, 2.2, 2.3), (1.0, 1.1, 1.2, 1.3), "slower"),
    ((1.0, 1.5, 2.0, 2.5), (1.2, 1.6, 1.9, 2.4), "within noise"),
    ((1.0, 1.0, 1.0), (1.0, 1.0, 1.0), "within noise"),
    # medians 1.5 vs 2.0 apart, yet the IQRs overlap: a median-only rule would say "faster"
    ((1.0, 1.5, 2.2, 3.0), (1.4, 2.0, 2.4, 3.0), "within noise"),
    ((1.0, 1.0, 1.0), (1.0 + 1e-9, 1.0 + 1e-9, 1.0 + 1e-9), "faster"),  # strict, not <=
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


CLAIM_PAGE = """\
# Claims

```python
--8<-- "snippets/c.py:numbers"
```

{claim}
"""

NUMBERS = """\
# --8<-- [start:numbers]
from d2l_compiler import Samples

quick = Samples("quick", (1.0, 1.1, 1.2))
slow = Samples("slow", (2.0, 2.1, 2.2))
noisy = Samples("noisy", (0.5, 1.5, 2.5))
compile_seconds, script_seconds = 9.0, 0.1
# --8<-- [end:numbers]
"""


@pytest.mark.parametrize("claim", [
    "{{ d2l:claim numbers.quick faster numbers.slow | 快的更快 }}",
    "{{ d2l:claim numbers.slow slower numbers.quick | 慢的更慢 }}",
    "{{ d2l:claim numbers.noisy within-noise numbers.quick | 差不多 }}",
    "{{ d2l:claim numbers.compile_seconds > numbers.script_seconds | 编译更久 }}",
])
def test_true_claims_render_their_text(site, claim):
    site.write("docs/index.md", CLAIM_PAGE.format(claim=claim))
    site.write("snippets/c.py", NUMBERS)
    result = site.build()
    assert result.code == 0, result.stderr
    assert claim.split("| ")[1].removesuffix(" }}") in site.html()


@pytest.mark.parametrize(("claim", "measured"), [
    ("{{ d2l:claim numbers.slow faster numbers.quick | 慢的更快 }}", "measured: slower"),
    ("{{ d2l:claim numbers.noisy faster numbers.quick | 吵的更快 }}", "measured: within noise"),
    ("{{ d2l:claim numbers.compile_seconds < numbers.script_seconds | 编译更快 }}", "measured 9 vs 0.1"),
])
def test_contradicting_claim_fails_the_build(site, claim, measured):
    site.write("docs/index.md", CLAIM_PAGE.format(claim=claim))
    site.write("snippets/c.py", NUMBERS)
    result = site.build()
    assert result.code == 1
    assert "contradicts the record" in result.stderr and measured in result.stderr
    assert "docs/index.md" in result.stderr


def test_durations_are_written_in_a_unit_that_leaves_digits_to_read():
    from d2l_compiler.claims import compare, duration

    assert duration(0.0835) == "0.0835 秒" and duration(0.0835, "en") == "0.0835 s"
    assert duration(0.002345) == "2.345 毫秒" and duration(3.62e-5) == "36.2 微秒"
    assert duration(3.62e-5, "en") == "36.2 µs"
    fast = {"median": 3e-5, "q1": 2.9e-5, "q3": 3.1e-5, "description": "a"}
    slow = {"median": 6e-5, "q1": 5.9e-5, "q3": 6.1e-5, "description": "a"}  # the same name
    assert "中位数 30.0 微秒对 60.0 微秒" in compare(fast, slow)
    tied = compare(fast, {**fast, "median": 3.05e-5})
    assert tied == ("在这次构建中，“a”的中位数为 30.0 微秒（四分位区间 29.0–31.0），“a”的中位数为 "
                    "30.5 微秒（四分位区间 29.0–31.0）：两个四分位区间相互重叠，差别在测量波动之内，"
                    "不能说哪一个更快。")  # a tie says how wide the spread was
