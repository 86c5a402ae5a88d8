"""Sentences generated from measurements: which of two timings was faster, if either.

The rule is stated in the sentence itself: a difference counts only when the interquartile
ranges of the two sets of samples do not overlap; otherwise it is within the noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from d2l_compiler.timing import duration, time_unit


def _summary(samples: Mapping[str, Any]) -> tuple[str, float, float, float]:
    try:
        return (samples["description"], samples["median"], samples["q1"], samples["q3"])
    except KeyError as missing:
        raise ValueError(f"not a samples record (missing {missing})") from None


def verdict(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """``"faster"`` / ``"slower"`` (first relative to second) or ``"within noise"``."""
    _, _, q1_a, q3_a = _summary(first)
    _, _, q1_b, q3_b = _summary(second)
    if q3_a < q1_b:
        return "faster"
    if q3_b < q1_a:
        return "slower"
    return "within noise"


def spread(samples: Mapping[str, Any], language: str = "zh") -> str:
    """Median and interquartile range in the median's unit: ``60.2 微秒（四分位区间 55.0–70.3）``."""
    _, median, q1, q3 = _summary(samples)
    scale, unit, decimals = time_unit(median, language)
    iqr = f"{q1 * scale:.{decimals}f}–{q3 * scale:.{decimals}f}"
    if language == "en":
        return f"{median * scale:.{decimals}f} {unit} (interquartile range {iqr})"
    return f"{median * scale:.{decimals}f} {unit}（四分位区间 {iqr}）"


def compare(first: Mapping[str, Any], second: Mapping[str, Any], language: str = "zh") -> str:
    """A sentence (Chinese, or English with ``language="en"``) saying which of two ``Samples``
    records was faster, read off the data."""
    name_a, med_a, _, _ = _summary(first)
    name_b, med_b, _, _ = _summary(second)
    outcome = verdict(first, second)
    english = language == "en"
    if outcome == "within noise":
        if english:
            return (f"In this build the interquartile ranges of “{name_a}” (median "
                    f"{spread(first, language)}) and “{name_b}” (median {spread(second, language)}) "
                    f"overlap: the difference is within the noise, and neither can be called "
                    f"faster.")
        return (f"在这次构建中，“{name_a}”的中位数为 {spread(first)}，“{name_b}”的中位数为 "
                f"{spread(second)}：两个四分位区间相互重叠，差别在测量波动之内，"
                f"不能说哪一个更快。")
    fast, slow, t_fast, t_slow = ((name_a, name_b, med_a, med_b) if outcome == "faster"
                                  else (name_b, name_a, med_b, med_a))
    if english:
        return (f"In this build “{fast}” was faster: median {duration(t_fast, language)} against "
                f"{duration(t_slow, language)}, about {t_slow / t_fast:.2f} times the speed, and "
                f"the interquartile ranges do not overlap, so the difference is beyond the noise.")
    return (f"在这次构建中，“{fast}”更快：中位数 {duration(t_fast)}对 {duration(t_slow)}，"
            f"约为后者的 {t_slow / t_fast:.2f} 倍速度，且两者的四分位区间互不重叠，"
            f"差别超出了测量波动。")


CLAIM_VERBS = ("faster", "slower", "within-noise", ">", "<")


def check_claim(left: Any, verb: str, right: Any) -> str | None:
    """None if the claim ``left VERB right`` holds, else what was measured instead.

    Verbs: ``faster``/``slower``/``within-noise`` (two samples records, by
    [`verdict`][d2l_compiler.claims.verdict]) and ``>``/``<`` (two numbers).
    """
    if verb in (">", "<"):
        if not all(isinstance(v, int | float) for v in (left, right)):
            raise ValueError(f"'{verb}' compares two numbers")
        holds = left > right if verb == ">" else left < right
        return None if holds else f"measured {left:.4g} vs {right:.4g}"
    if verb not in CLAIM_VERBS:
        raise ValueError(f"unknown claim verb {verb!r} (use one of {', '.join(CLAIM_VERBS)})")
    measured = verdict(left, right)
    return None if measured == verb.replace("-", " ") else f"measured: {measured}"
