"""Sentences generated from measurements: which of two timings was faster, if either.

The rule is stated in the sentence itself. Two timings taken side by side, round by round
(the same ``session``), are compared by the ratio of each round: a difference counts only
when the interquartile range of those ratios lies wholly above or below 1. Other timings
count as different only when their interquartile ranges do not overlap; otherwise the
difference is within the noise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from d2l_compiler.timing import duration, quartiles, time_unit


def _summary(samples: Mapping[str, Any]) -> tuple[str, float, float, float]:
    if not isinstance(samples, Mapping):
        raise ValueError(f"not a samples record (a {type(samples).__name__})")
    try:
        found = (samples["description"], samples["median"], samples["q1"], samples["q3"])
    except KeyError as missing:
        raise ValueError(f"not a samples record (missing {missing})") from None
    numbers = found[1:]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and n >= 0 for n in numbers):
        raise ValueError(f"not a samples record (median and quartiles {numbers!r} are not "
                         f"non-negative numbers)")
    return found


def round_ratios(first: Mapping[str, Any], second: Mapping[str, Any]) -> tuple[float, ...] | None:
    """两者交替计时时，逐轮计算 ``first`` 的秒数与 ``second`` 的秒数之比；否则返回 None。

    交替计时指：两者的 ``session`` 相同且非空，记录保留了每一轮的数据，并且轮数相同。"""
    session = first.get("session") if isinstance(first, Mapping) else None
    if not session or not isinstance(second, Mapping) or second.get("session") != session:
        return None
    a, b = first.get("seconds"), second.get("seconds")
    if not isinstance(a, list | tuple) or not isinstance(b, list | tuple):
        return None
    if not a or len(a) != len(b) or len(a) != first.get("count") or len(b) != second.get("count"):
        return None  # rounds were thinned out for the record: their order is lost
    if not all(isinstance(t, int | float) and not isinstance(t, bool) and t > 0 for t in (*a, *b)):
        return None
    return tuple(x / y for x, y in zip(a, b, strict=True))


def verdict(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """判断 ``first`` 相对 ``second`` 是 ``"faster"``、``"slower"`` 还是 ``"within noise"``。

    两者交替计时时，依据成对各轮的比值；否则依据两者各自的波动范围（四分位区间）。"""
    ratios = round_ratios(first, second)
    if ratios is not None:
        low, _, high = quartiles(ratios)
        return "faster" if high < 1 else "slower" if low > 1 else "within noise"
    _, _, q1_a, q3_a = _summary(first)
    _, _, q1_b, q3_b = _summary(second)
    if q3_a < q1_b:
        return "faster"
    if q3_b < q1_a:
        return "slower"
    return "within noise"


def ratio_range(low: float, high: float) -> str:
    """``1.26–1.28``; with more decimals where two decimals would hide what the verdict rests
    on (``1.004–1.10`` is wholly above 1, ``1.00–1.10`` reads as if it touched 1; ``1.262–1.264``
    rather than ``1.26–1.26``)."""
    def shown(value: float, decimals: int) -> str:
        return f"{value:.{decimals}f}"
    decimals = 2
    while decimals < 4 and ((shown(low, decimals) == shown(high, decimals) and low != high)
                            or any(shown(v, decimals) == shown(1.0, decimals) and v != 1.0
                                   for v in (low, high))):
        decimals += 1
    return f"{shown(low, decimals)}–{shown(high, decimals)}"


def spread(samples: Mapping[str, Any], language: str = "zh") -> str:
    """Median and interquartile range in the median's unit: ``60.2 微秒（四分位区间 55.0–70.3）``."""
    _, median, q1, q3 = _summary(samples)
    scale, unit, decimals = time_unit(median, language)
    iqr = f"{q1 * scale:.{decimals}f}–{q3 * scale:.{decimals}f}"
    if language == "en":
        return f"{median * scale:.{decimals}f} {unit} (interquartile range {iqr})"
    return f"{median * scale:.{decimals}f} {unit}（四分位区间 {iqr}）"


def compare(first: Mapping[str, Any], second: Mapping[str, Any], language: str = "zh") -> str:
    """根据数据生成一句话，说明两份 ``Samples`` 记录中哪一个更快。

    默认用中文；``language="en"`` 时用英文。"""
    name_a, med_a, _, _ = _summary(first)
    name_b, med_b, _, _ = _summary(second)
    outcome = verdict(first, second)
    english = language == "en"
    ratios = round_ratios(first, second)
    if ratios is not None:
        return _compare_rounds(first, second, ratios, outcome, language)
    if outcome == "within noise":
        if english:
            return (f"In this build the interquartile ranges of “{name_a}” (median "
                    f"{spread(first, language)}) and “{name_b}” (median {spread(second, language)}) "
                    f"overlap: the difference is within the noise, and neither can be called "
                    f"faster.")
        return (f"“{name_a}”的中位数为 {spread(first)}，“{name_b}”为 {spread(second)}。"
                f"两个四分位区间相互重叠，差别在测量波动之内，说不上哪个更快。")
    fast, slow, t_fast, t_slow = ((name_a, name_b, med_a, med_b) if outcome == "faster"
                                  else (name_b, name_a, med_b, med_a))
    if english:
        return (f"In this build “{fast}” was faster: median {duration(t_fast, language)} against "
                f"{duration(t_slow, language)}, about {t_slow / t_fast:.2f} times the speed, and "
                f"the interquartile ranges do not overlap, so the difference is beyond the noise.")
    return (f"“{fast}”更快，中位数为 {duration(t_fast)}，而“{slow}”为 {duration(t_slow)}，"
            f"后者的用时是前者的 {t_slow / t_fast:.2f} 倍；两者的四分位区间互不重叠，"
            f"差别超出了测量波动。")


def _compare_rounds(first: Mapping[str, Any], second: Mapping[str, Any],
                    ratios: tuple[float, ...], outcome: str, language: str) -> str:
    """``compare`` for two timings taken side by side: read off the ratio of each round."""
    name_a, name_b = _summary(first)[0], _summary(second)[0]
    low, ratio, high = quartiles(ratios)
    if language == "en":
        said = {"faster": f"so “{name_a}” was faster, beyond the noise",
                "slower": f"so “{name_b}” was faster, beyond the noise",
                "within noise": "the range includes 1, so the difference is within the noise "
                                "and neither can be called faster"}[outcome]
        return (f"In this build the two were timed alternately, {len(ratios)} rounds each: "
                f"“{name_a}” took a median of {spread(first, language)} and “{name_b}” "
                f"{spread(second, language)}; within each round “{name_a}” took {ratio:.2f} times "
                f"as long as “{name_b}” (median of the rounds, interquartile range "
                f"{low:.2f}–{high:.2f}): {said}.")
    where, said = {"faster": ("整个低于 1", f"所以“{name_a}”更快，差别超出了测量波动"),
                   "slower": ("整个高于 1", f"所以“{name_b}”更快，差别超出了测量波动"),
                   "within noise": ("跨过了 1", "差别在测量波动之内，说不上哪个更快")}[outcome]
    return (f"两者交替计时，各测 {len(ratios)} 轮。“{name_a}”的中位数为 {spread(first)}，"
            f"“{name_b}”为 {spread(second)}。逐轮相比，“{name_a}”的用时是“{name_b}”的 "
            f"{ratio:.2f} 倍，各轮比值的四分位区间为 {ratio_range(low, high)}，{where}，{said}。")


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


class Disagreement(ValueError):
    """Two figures of the same work, measured under the same conditions, do not agree."""


def _conditions(samples: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (samples.get("conditions") or {}).items()}


def differing_conditions(first: Mapping[str, Any], second: Mapping[str, Any],
                         language: str = "zh") -> str:
    """The conditions two samples records were measured under that differ, as a phrase
    (``计时方式：前者为 A，后者为 B；进程：…``); "" when they are the same. A condition recorded for
    only one of them counts as differing ("未记录" / "not recorded" for the other)."""
    a, b = _conditions(first), _conditions(second)
    differing = [(name, a.get(name), b.get(name)) for name in _differing_names(first, second)]
    if language == "en":
        return "; ".join(f"{name}: {x or 'not recorded'} vs {y or 'not recorded'}"
                         for name, x, y in differing)
    return "；".join(f"{name}：前者为{_spaced(x or '未记录')}，后者为{_spaced(y or '未记录')}"
                    for name, x, y in differing)


def _spaced(value: str) -> str:
    """A value set after Chinese text: a space before it when it starts with a Latin letter
    or a digit (``为 torch.utils.benchmark``, ``为单独的全新进程``)."""
    return f" {value}" if value[:1].isascii() and value[:1].isalnum() else value


def agreement(first: Mapping[str, Any], second: Mapping[str, Any], language: str = "zh") -> str:
    """生成一句话，说明对*同一项工作*的两次计时在波动范围内是否一致。

    一致是指两者的四分位区间相互重叠。句中会列出两次测量所有不同的条件，
    这样读者不必去猜同一件事的两个数字为什么不同。

    如果两者是在相同条件下测得的，却仍不一致，就抛出 ``Disagreement``：
    这时页面无法为这项工作给出一个可信的数字。
    """
    name_a, med_a, _, _ = _summary(first)
    name_b, med_b, _, _ = _summary(second)
    agree = verdict(first, second) == "within noise"
    differ = differing_conditions(first, second, language)
    gap_text = _gap(first, second)
    if not agree and not differ:
        raise Disagreement(f"“{name_a}” ({spread(first, 'en')}) and “{name_b}” "
                           f"({spread(second, 'en')}) time the same work under the same "
                           f"conditions, yet their interquartile ranges do not overlap: the "
                           f"measurement did not reproduce on this machine; build again on a "
                           f"quieter machine or measure for longer")
    if language == "en":
        figures = (f"“{name_a}” took a median of {spread(first, language)} and “{name_b}” "
                   f"{spread(second, language)}.")
        if agree:
            how = f"were measured differently ({differ}) but" if differ else "were measured the same way and"
            return f"{figures} Both time the same work; they {how} agree: their interquartile ranges overlap."
        return (f"{figures} Both time the same work, yet they differ by {gap_text}, beyond their "
                f"spread; they were measured differently ({differ}), so compare each only with "
                f"figures measured the same way.")
    figures = f"“{name_a}”的中位数为 {spread(first)}，“{name_b}”的中位数为 {spread(second)}。"
    if agree:
        how = f"只是测法不同（{differ}），" if differ else "测量条件也相同，"
        return f"{figures}两者测的是同一件事，{how}四分位区间相互重叠，结果一致。"
    return (f"{figures}两者测的是同一件事，却相差 {gap_text}，超出了各自的波动；它们的测法不同"
            f"（{differ}），所以每个数字只宜与同一种测法的数字相比。")


_OPPOSITE = {"faster": "slower", "slower": "faster"}


def _verdict_phrase(first: Mapping[str, Any], second: Mapping[str, Any], language: str) -> str:
    a, b, outcome = _summary(first)[0], _summary(second)[0], verdict(first, second)
    if language == "en":
        return (f"“{a}” and “{b}” are within the noise" if outcome == "within noise"
                else f"“{a}” is {outcome} than “{b}”")
    return {"faster": f"“{a}”比“{b}”快", "slower": f"“{a}”比“{b}”慢",
            "within noise": f"“{a}”与“{b}”的差别在波动之内"}[outcome]


def _speedup_range(faster: Mapping[str, Any], slower: Mapping[str, Any]
                   ) -> tuple[float, float, float] | None:
    """Quartiles of ``slower``'s time over ``faster``'s, round by round (how many times as
    fast ``faster`` was, as the chapter's tables give a speed-up); None unless paired."""
    ratios = round_ratios(slower, faster)
    return quartiles(ratios) if ratios else None


def verdicts_agreement(first: tuple[Mapping[str, Any], Mapping[str, Any]],
                       second: tuple[Mapping[str, Any], Mapping[str, Any]],
                       language: str = "zh") -> str:
    """生成一句话，说明对同一对工作的两次比较结论是否相同，并指出两次测量有何不同。

    两次比较都是 A 对 B，A 和 B 各测了两次。两次都是逐轮交替计时的，就连同倍数一起比较：
    各轮“B 的用时 ÷ A 的用时”的四分位区间相互重叠，才算一致。测量条件相同，
    结论却相反，或者倍数的区间互不重叠，就抛出 ``Disagreement``。
    """
    (a1, b1), (a2, b2) = first, second
    v1, v2 = verdict(a1, b1), verdict(a2, b2)
    differ = differing_conditions(a1, a2, language) or differing_conditions(b1, b2, language)
    said = [_verdict_phrase(a, b, language) for a, b in (first, second)]
    r1, r2 = _speedup_range(a1, b1), _speedup_range(a2, b2)
    ranges_overlap = r1 is None or r2 is None or (r1[0] <= r2[2] and r2[0] <= r1[2])
    if not differ and _OPPOSITE.get(v1) == v2:
        raise Disagreement(f"two comparisons of the same works under the same conditions reach "
                           f"opposite verdicts: {said[0]}, yet {said[1]}")
    if not differ and not ranges_overlap:
        raise Disagreement(f"two comparisons of the same works under the same conditions give "
                           f"ratios whose interquartile ranges do not overlap: {r1[1]:.2f} "
                           f"({ratio_range(r1[0], r1[2])}) vs {r2[1]:.2f} "
                           f"({ratio_range(r2[0], r2[2])})")
    if language == "en":
        how = f"measured differently ({differ})" if differ else "measured the same way"
        same = "agree" if v1 == v2 and ranges_overlap else "disagree"
        return (f"The two comparisons, {how}, {same}: first {said[0]}; then {said[1]}."
                + ("" if v1 == v2 else " Each verdict holds only under its own conditions."))
    how = f"两次的测法不同（{differ}）" if differ else "两次的测法相同"
    if r1 is not None and r2 is not None:
        a_name, b_name = _summary(a1)[0], _summary(b1)[0]
        figures = (f"前一次逐轮交替计时，“{b_name}”的用时是“{a_name}”的 {r1[1]:.2f} 倍"
                   f"（四分位区间 {ratio_range(r1[0], r1[2])}）；后一次的对应倍数是 {r2[1]:.2f}"
                   f"（{ratio_range(r2[0], r2[2])}）。")
        if v1 == v2 and ranges_overlap:
            return f"{figures}两个区间相互重叠，结论一致；{how}。"
        if v1 == v2:
            return (f"{figures}快慢的结论相同，倍数却不一致，两个区间互不重叠。{how}，"
                    f"所以每个倍数只宜与同一种测法的倍数相比。")
        return (f"{figures}两次的结论并不相同：前一次{said[0]}，后一次{said[1]}。{how}，"
                f"快慢的结论只在它自己的测量条件下成立。")
    if v1 == v2:
        return f"{how}，结论一致：前一次{said[0]}，后一次{said[1]}。"
    opposite = "结论正好相反" if _OPPOSITE.get(v1) == v2 else "结论并不相同"
    return (f"{how}，{opposite}：前一次{said[0]}，后一次{said[1]}。"
            f"快慢的结论只在它自己的测量条件下成立。")


@dataclass(frozen=True)
class Timing:
    """One place a timing appears on a page: the recorded value's name and its samples record."""

    where: str
    samples: Mapping[str, Any]


@dataclass(frozen=True)
class Repeat:
    """A quantity the page shows more than once: every place it appears, and for each place
    after the first how it stands beside the first (``beside_first[i]`` for ``timings[i + 1]``)."""

    what: str
    timings: tuple[Timing, ...]
    beside_first: tuple[str, ...]


def timings_in(value: Any, where: str = "") -> list[Timing]:
    """Every samples record inside ``value`` (mappings and lists walked), named by its path
    (``benchmark_repeated.eager`` or ``paths.batches.1.script.paired.path``)."""
    if isinstance(value, Mapping):
        if value.get("type") == "samples":
            return [Timing(where, value)]
        return [t for key, inner in value.items()
                for t in timings_in(inner, f"{where}.{key}" if where else str(key))]
    if isinstance(value, list | tuple):
        return [t for i, inner in enumerate(value) for t in timings_in(inner, f"{where}.{i}")]
    return []


def distinct(timings: list[Timing]) -> list[Timing]:
    """``timings`` without a second place holding the very same record (one measurement bound
    under two names, or stored twice in one value, is shown once, not repeated)."""
    kept: list[Timing] = []
    for timing in timings:
        if not any(timing.samples == seen.samples for seen in kept):
            kept.append(timing)
    return kept


def _same_process(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    process = first.get("process_id")
    return bool(process) and process == second.get("process_id")


def _relative_gap(first: Mapping[str, Any], second: Mapping[str, Any]) -> float:
    """How far apart two medians are, as a share of the smaller (of the larger where the
    smaller is a 0 s clock tick)."""
    a, b = _summary(first)[1], _summary(second)[1]
    return abs(a - b) / (min(a, b) or max(a, b) or 1)


def _gap(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """That gap as a percentage: never "0 %" for a real one."""
    gap = _relative_gap(first, second)
    return f"{gap:.0%}" if gap >= 0.1 else f"{gap:.1%}"


# Two timings of one work in one process, taken the same way, agree when their interquartile
# ranges overlap or their medians lie this close: a timer that takes hundreds of samples
# (torch.utils.benchmark) gives ranges so narrow that a drift of 1-2 % would part them.
SAME_WORK_TOLERANCE = 0.05


def _differing_names(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    """The names of the conditions two samples records differ in, in the order recorded (a
    condition recorded for only one of them differs)."""
    a, b = _conditions(first), _conditions(second)
    return [name for name in dict.fromkeys([*a, *b]) if a.get(name) != b.get(name)]


def _differing(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    """The names of the conditions that differ (the process left out: it is said apart)."""
    return [name for name in _differing_names(first, second) if name != "进程"]


def _how_measured(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """"测法不同（计时方式）"、"在另一个进程里测得", both, or "" when nothing differs."""
    how = []
    differ = _differing(first, second)
    if differ:
        how.append(f"测法不同（{'、'.join(differ)}）")
    if not _same_process(first, second):
        how.append("在另一个进程里测得")
    return "，".join(how)


def _beside(first: Mapping[str, Any], other: Mapping[str, Any], where: str, first_where: str) -> str:
    """How ``other`` stands beside ``first`` (two timings of one work), as a short phrase;
    ``Disagreement`` where one process timed it twice the same way and the two do not agree."""
    agree = (verdict(first, other) == "within noise"
             or _relative_gap(first, other) <= SAME_WORK_TOLERANCE)
    how = _how_measured(first, other)
    if not how and _conditions(first) == _conditions(other) and not agree:
        raise Disagreement(f"{where} times the same work as {first_where}, in the same "
                           f"process under the same conditions, yet they differ by "
                           f"{_gap(first, other)}, beyond their interquartile ranges "
                           f"({spread(first, 'en')} vs {spread(other, 'en')}): something "
                           f"between the two changed the process's speed (compile workers "
                           f"still running, an earlier model's state) or the machine was busy; "
                           f"measure both in the same state, or in processes of their own")
    if not how:
        return "同一进程、同样的测法，结果一致"
    return f"{how}，四分位区间相互重叠" if agree else f"{how}，中位数相差 {_gap(first, other)}"


def repeated_timings(timings: list[Timing]) -> list[Repeat]:
    """The works timed more than once among ``timings`` (by ``work``; unnamed ones are left
    out, and a record found at two places counts once), each with how every later place
    stands beside the first. ``Disagreement`` where two timings of one work, taken in one
    process under the same conditions, do not agree (every pair is checked, not only those
    beside the first)."""
    groups: dict[str, list[Timing]] = {}
    for timing in distinct(timings):
        work = timing.samples.get("work")
        if isinstance(work, str) and work:
            groups.setdefault(work, []).append(timing)
    repeats = []
    for work, found in groups.items():
        if len(found) < 2:
            continue
        for i, first in enumerate(found):
            for later in found[i + 1:]:
                _beside(first.samples, later.samples, later.where, first.where)
        beside = tuple(_beside(found[0].samples, t.samples, t.where, found[0].where)
                       for t in found[1:])
        repeats.append(Repeat(work, tuple(found), beside))
    return repeats


@dataclass(frozen=True)
class RepeatedComparison:
    """Two works timed side by side (one ``session``) in more than one session: each pair
    (as ``Timing``s, an eager side first, else by work name), and for each pair after the
    first how its ratio stands beside the first pair's."""

    works: tuple[str, str]
    pairs: tuple[tuple[Timing, Timing], ...]
    beside_first: tuple[str, ...]


def ratio_of(pair: tuple[Timing, Timing]) -> tuple[float, float, float] | None:
    """Quartiles of the first work's time over the second's, round by round (None unless
    the two were timed side by side)."""
    ratios = round_ratios(pair[0].samples, pair[1].samples)
    return quartiles(ratios) if ratios else None


def _beside_ratio(first: tuple[Timing, Timing], other: tuple[Timing, Timing]) -> str:
    """How ``other``'s ratio stands beside ``first``'s; ``Disagreement`` (from
    :func:`verdicts_agreement`) where one process made the same comparison the same way twice
    and the verdicts are opposite or the ratios' ranges apart."""
    how = _how_measured(first[0].samples, other[0].samples)
    if not how:
        verdicts_agreement((first[0].samples, first[1].samples),
                           (other[0].samples, other[1].samples))
    r1, r2 = ratio_of(first), ratio_of(other)
    overlap = r1 is None or r2 is None or (r1[0] <= r2[2] and r2[0] <= r1[2])
    same = verdict(first[0].samples, first[1].samples) == verdict(other[0].samples,
                                                                   other[1].samples)
    return (f"{how or '同一进程、同样的测法'}，{'快慢的结论相同' if same else '快慢的结论不同'}，"
            f"{'倍数的区间相互重叠' if overlap else '倍数的区间互不重叠'}")


def _eager_first(work: str) -> tuple[bool, str]:
    """Sort key: the uncompiled side of a comparison first (its time over the other's is the
    other's speed-up, as the chapter's tables give it), then by name."""
    return (not work.startswith("eager"), work)


def repeated_comparisons(timings: list[Timing]) -> list[RepeatedComparison]:
    """The comparisons the page makes more than once: two named works timed side by side in
    more than one session. ``Disagreement`` (from :func:`verdicts_agreement`) where two of
    them, made in one process under the same conditions, reach opposite verdicts or ratios
    whose ranges do not overlap (every pair checked). In another process the same ratio may
    differ: that is said, not held against it."""
    sessions: dict[str, list[Timing]] = {}
    for timing in distinct(timings):
        session, work = timing.samples.get("session"), timing.samples.get("work")
        if session and isinstance(work, str) and work:
            sessions.setdefault(str(session), []).append(timing)
    pairs: dict[tuple[str, str], list[tuple[Timing, Timing]]] = {}
    for found in sessions.values():
        for i, a in enumerate(found):
            for b in found[i + 1:]:
                first, second = sorted((a, b), key=lambda t: _eager_first(t.samples["work"]))
                pairs.setdefault((first.samples["work"], second.samples["work"]), []).append(
                    (first, second))
    repeated = []
    for works, found in pairs.items():
        if len(found) < 2:
            continue
        for i, earlier in enumerate(found):  # every pair, not only those beside the first
            for later in found[i + 1:]:
                _beside_ratio(earlier, later)
        repeated.append(RepeatedComparison(works, tuple(found), tuple(
            _beside_ratio(found[0], pair) for pair in found[1:])))
    return repeated
