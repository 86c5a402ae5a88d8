"""Sentences generated from measurements: which of two timings was faster, if either.

The rule is stated in the sentence itself: a difference counts only when the interquartile
ranges of the two sets of samples do not overlap; otherwise it is within the noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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


def compare(first: Mapping[str, Any], second: Mapping[str, Any], language: str = "zh") -> str:
    """A sentence (Chinese, or English with ``language="en"``) saying which of two ``Samples``
    records was faster, read off the data."""
    name_a, med_a, _, _ = _summary(first)
    name_b, med_b, _, _ = _summary(second)
    outcome = verdict(first, second)
    english = language == "en"
    if outcome == "within noise":
        if english:
            return (f"In this build the interquartile ranges of “{name_a}” (median {med_a:.4f} s) "
                    f"and “{name_b}” (median {med_b:.4f} s) overlap: the difference is within "
                    f"the noise, and neither can be called faster.")
        return (f"在这次构建中，“{name_a}”（中位数 {med_a:.4f} 秒）与“{name_b}”"
                f"（中位数 {med_b:.4f} 秒）的四分位区间相互重叠：差别在测量波动之内，"
                f"不能说哪一个更快。")
    fast, slow, t_fast, t_slow = ((name_a, name_b, med_a, med_b) if outcome == "faster"
                                  else (name_b, name_a, med_b, med_a))
    if english:
        return (f"In this build “{fast}” was faster: median {t_fast:.4f} s against {t_slow:.4f} s, "
                f"about {t_slow / t_fast:.2f} times the speed, and the interquartile ranges do not "
                f"overlap, so the difference is beyond the noise.")
    return (f"在这次构建中，“{fast}”更快：中位数 {t_fast:.4f} 秒对 {t_slow:.4f} 秒，"
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
