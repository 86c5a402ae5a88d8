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
    assert "更快" not in text.replace("说不上哪个更快", "")
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
    assert compare(fast, slow) == ("“a”更快，中位数为 30.0 微秒，而“a”为 60.0 微秒，后者的用时是"
                                   "前者的 2.00 倍；两者的四分位区间互不重叠，差别超出了测量波动。")
    tied = compare(fast, {**fast, "median": 3.05e-5})
    assert tied == ("“a”的中位数为 30.0 微秒（四分位区间 29.0–31.0），“a”为 30.5 微秒（四分位区间 "
                    "29.0–31.0）。两个四分位区间相互重叠，差别在测量波动之内，说不上哪个更快。")
    # a tie says how wide the spread was; no sentence says "约为后者的 … 倍速度" or stacks colons
    for sentence in (compare(fast, slow), tied):
        assert "倍速度" not in sentence and "：" not in sentence


def _timed(name: str, seconds: tuple[float, ...], **conditions: str) -> dict:
    return Samples(name, seconds, conditions=tuple(conditions.items())).to_record()


def test_figures_of_the_same_work_name_every_condition_that_differs():
    from d2l_compiler.claims import agreement

    here = _timed("本页", (1.0, 1.1, 1.2), timer="measure_many", process="本页", threads="2")
    fresh = _timed("新进程", (1.5, 1.6, 1.7), timer="measure_many", process="全新", threads="2")
    text = agreement(here, fresh)
    assert "相差 45%" in text and "超出了各自的波动" in text
    assert "process：前者为本页，后者为全新" in text
    assert "timer" not in text and "threads" not in text  # only what differs is named
    overlapping = _timed("新进程", (1.05, 1.1, 1.25), timer="measure_many", process="全新")
    text = agreement(here, overlapping)
    assert "结果一致" in text and "process：前者为本页，后者为全新" in text
    assert "threads：前者为 2，后者为未记录" in text  # a condition one side lacks counts as differing
    english = agreement(here, fresh, language="en")
    assert "differ by 45%" in english and "process: 本页 vs 全新" in english


def test_the_same_conditions_must_agree_or_nothing_is_published():
    from d2l_compiler.claims import Disagreement, agreement

    first = _timed("a", (1.0, 1.1, 1.2), timer="t", process="p")
    assert "测量条件也相同" in agreement(first, _timed("b", (1.1, 1.15, 1.3), timer="t", process="p"))
    with pytest.raises(Disagreement, match="under the same conditions"):
        agreement(first, _timed("b", (1.5, 1.6, 1.7), timer="t", process="p"))
    with pytest.raises(Disagreement):  # nothing recorded on either side is "the same"
        agreement(_samples("a", 1.0, 1.1, 1.2), _samples("b", 2.0, 2.1, 2.2))


def test_two_comparisons_of_the_same_works_may_not_silently_contradict():
    from d2l_compiler.claims import Disagreement, verdicts_agreement

    fast, slow = (1.0, 1.1, 1.2), (2.0, 2.1, 2.2)
    a1, b1 = _timed("A", fast, process="本页"), _timed("B", slow, process="本页")
    a2, b2 = _timed("A", slow, process="全新"), _timed("B", fast, process="全新")
    text = verdicts_agreement((a1, b1), (a2, b2))
    assert "结论正好相反" in text and "“A”比“B”快" in text and "“A”比“B”慢" in text
    assert "process：前者为本页，后者为全新" in text
    same = verdicts_agreement((a1, b1), (_timed("A", fast, process="全新"), b2))
    assert "结论不同" not in same and "结论并不相同" in same  # faster vs within noise
    assert "结论一致" in verdicts_agreement((a1, b1), (a1, b1))
    with pytest.raises(Disagreement, match="opposite verdicts"):
        verdicts_agreement((a1, b1), (_timed("A", slow, process="本页"),
                                      _timed("B", fast, process="本页")))
    # B's conditions differ even though A's agree: that is a different measurement
    assert "结论正好相反" in verdicts_agreement(
        (a1, b1), (_timed("A", slow, process="本页"), _timed("B", fast, process="全新")))


AGREEMENT_NUMBERS = """\
# --8<-- [start:numbers]
from d2l_compiler import Samples

here = Samples("here", (1.0, 1.1, 1.2), conditions=(("进程", "本页"),))
again = Samples("again", (1.5, 1.6, 1.7), conditions=(("进程", "本页"),))
fresh = Samples("fresh", (1.5, 1.6, 1.7), conditions=(("进程", "<b id=inj>新</b>"),))
# --8<-- [end:numbers]
"""


def test_agreement_token_labels_conditions_and_fails_on_the_same_conditions(site):
    site.write("snippets/c.py", AGREEMENT_NUMBERS)
    site.write("docs/index.md", CLAIM_PAGE.format(
        claim="{{ d2l:agreement numbers.here numbers.fresh }}"))
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert "（进程：前者为本页，后者为&#60;b id=inj&#62;新&#60;/b&#62;）" in html and "id=inj>" not in html
    site.write("docs/index.md", CLAIM_PAGE.format(
        claim="\n{{ d2l:agreement numbers.here numbers.again }}"))
    result = site.build()
    assert result.code == 1
    assert "docs/index.md:8" in result.stderr and "under the same conditions" in result.stderr
    site.write("docs/index.md", CLAIM_PAGE.format(claim="{{ d2l:agreement numbers.here }}"))
    assert "agreement reads" in site.build().stderr


@pytest.mark.parametrize("bad", [
    [1, 2, 3], "fast", {"description": "a", "median": "1", "q1": 1.0, "q3": 1.0},
    {"description": "a", "median": True, "q1": 1.0, "q3": 1.0},
    {"description": "a", "median": -1.0, "q1": -2.0, "q3": 0.0},
])
def test_anything_but_a_samples_record_is_one_clear_error(bad):
    from d2l_compiler.claims import agreement, verdicts_agreement

    good = _samples("b", 1.0, 1.1)
    for use in (lambda: compare(bad, good), lambda: agreement(good, bad),
                lambda: verdicts_agreement((good, good), (good, bad))):
        with pytest.raises(ValueError, match="not a samples record"):
            use()


def test_a_zero_median_is_compared_without_dividing_by_it():
    from d2l_compiler.claims import agreement

    text = agreement(_timed("tick", (0.0, 0.0, 0.0), clock="粗"), _timed("b", (1.0, 1.0, 1.0)))
    assert "相差 100%" in text and "clock：前者为粗，后者为未记录" in text


def test_a_small_gap_beyond_tight_spreads_is_not_written_as_zero():
    from d2l_compiler.claims import agreement

    text = agreement(_timed("a", (1.000, 1.000, 1.001), process="本页"),
                     _timed("b", (1.005, 1.005, 1.006), process="全新"))
    assert "相差 0.5%" in text and "相差 0%" not in text


def _session(name: str, seconds: tuple[float, ...], session: str = "s1") -> dict:
    return Samples(name, seconds, session=session).to_record()


# Round by round, A is 10 % faster than B every time, but the machine's speed drifted over
# the rounds so much that the two sets of samples overlap as wholes.
DRIFTING_B = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
DRIFTING_A = tuple(0.9 * t for t in DRIFTING_B)


def test_samples_timed_side_by_side_are_judged_round_by_round():
    from d2l_compiler.claims import round_ratios

    a, b = _session("A", DRIFTING_A), _session("B", DRIFTING_B)
    assert round_ratios(a, b) == pytest.approx((0.9,) * 7)
    assert verdict(a, b) == "faster" and verdict(b, a) == "slower"
    # the same numbers from two different sessions were not paired: their spreads overlap
    assert verdict(a, _session("B", DRIFTING_B, "s2")) == "within noise"
    assert verdict(_samples("A", *DRIFTING_A), _samples("B", *DRIFTING_B)) == "within noise"


def test_round_order_matters_and_a_ratio_range_across_one_is_noise():
    # per round A is 0.8, 1.2, 0.8, 1.2 ... times B: no side is faster, although each
    # sorted set alone would look the same as in a real difference
    b = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    a = (0.8, 1.2, 0.8, 1.2, 0.8, 1.2)
    assert verdict(_session("A", a), _session("B", b)) == "within noise"
    text = compare(_session("A", a), _session("B", b))
    assert "跨过了 1" in text and "交替计时，各测 6 轮" in text
    assert "更快" not in text.replace("说不上哪个更快", "")


def test_rounds_are_paired_only_when_every_round_was_kept():
    from d2l_compiler.claims import round_ratios

    a, b = _session("A", DRIFTING_A), _session("B", DRIFTING_B)
    thinned = dict(a, count=len(DRIFTING_A) + 300)  # the record kept a spread-out subset
    assert round_ratios(thinned, b) is None and verdict(thinned, b) == "within noise"
    assert round_ratios(dict(a, seconds=list(DRIFTING_A[:-1]), count=6), b) is None
    assert round_ratios(dict(a, session=""), dict(b, session="")) is None
    assert round_ratios(dict(a, seconds=[0.0] * 7), b) is None  # no ratio of a 0 s tick


def test_the_paired_sentence_reads_the_ratio_of_the_rounds():
    text = compare(_session("A", DRIFTING_A), _session("B", DRIFTING_B))
    assert "“A”的用时是“B”的 0.90 倍" in text
    assert "各轮比值的四分位区间为 0.90–0.90，整个低于 1，所以“A”更快" in text
    assert "：" not in text  # a sentence placed after "关闭自动求导之后：" adds no colon of its own
    english = compare(_session("B", DRIFTING_B), _session("A", DRIFTING_A), "en")
    assert "1.11 times as long" in english and "so “A” was faster" in english


def test_measure_many_times_its_candidates_in_one_session():
    from d2l_compiler.timing import measure_many

    first = measure_many({"a": lambda: None, "b": lambda: None}, number=1, repeats=3, warmup=0)
    again = measure_many({"a": lambda: None}, number=1, repeats=3, warmup=0)
    assert first["a"].session == first["b"].session != ""
    assert again["a"].session != first["a"].session
    assert first["a"].to_record()["session"] == first["a"].session


def _paired(ratio: float, session: str, **conditions: str) -> tuple[dict, dict]:
    """A (faster by ``ratio``, a little noise) and B, timed side by side in one session."""
    b = tuple(1e-3 * (1 + 0.01 * i) for i in range(7))
    a = tuple(t / (ratio * (1 + 0.002 * (i % 3))) for i, t in enumerate(b))
    return tuple(Samples(name, seconds, session=session, conditions=tuple(conditions.items())
                         ).to_record() for name, seconds in (("A", a), ("B", b)))


def test_two_speed_ups_of_the_same_pair_are_compared_by_their_ranges_not_only_their_direction():
    from d2l_compiler.claims import Disagreement, verdicts_agreement

    first = _paired(1.11, "s1", process="本页")
    close = _paired(1.112, "s2", process="全新")
    far = _paired(1.47, "s3", process="全新")
    agreeing = verdicts_agreement(first, close)
    assert "“B”的用时是“A”的 1.11 倍" in agreeing and "两个区间相互重叠，结论一致" in agreeing
    differing = verdicts_agreement(first, far)
    # both say A is faster, but 1.11 and 1.47 are not one figure: the sentence says so, and why
    assert "后一次的对应倍数是 1.47" in differing and "倍数却不一致" in differing
    assert "process：前者为本页，后者为全新" in differing and "结论一致" not in differing
    with pytest.raises(Disagreement, match="ratios whose interquartile ranges do not overlap"):
        verdicts_agreement(first, _paired(1.47, "s4", process="本页"))  # same conditions
