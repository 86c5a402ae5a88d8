"""Every quantity a page measures more than once is found in its record and checked
(``{{ d2l:repeated_figures }}``), not only the pairs its prose names: one work timed twice
in one process the same way must agree, two comparisons of the same works under the same
conditions must reach the same verdict; what differs otherwise is said."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from d2l_compiler.claims import (Disagreement, Timing, repeated_comparisons, repeated_timings,
                                 timings_in)
from d2l_compiler.timing import Samples, measure_many, work_of

SAME = (("计时方式", "measure_many 交替计时"), ("进程", "与前面的代码同一个进程"))


def _timing(where: str, seconds: tuple[float, ...], work: str = "w", process: str = "p1",
            conditions=SAME, session: str = "") -> Timing:
    return Timing(where, Samples(where, seconds, conditions=conditions, work=work,
                                 process_id=process, session=session).to_record())


def test_the_walk_finds_every_timing_inside_nested_values():
    inner = Samples("a", (1.0,), work="w").to_record()
    found = timings_in({"paths": {"batches": {"1": {"eager": {"samples": inner}}}},
                        "list": [1, {"x": inner}], "plain": 3}, "region")
    assert [t.where for t in found] == ["region.paths.batches.1.eager.samples", "region.list.1.x"]


def test_one_process_timing_one_work_the_same_way_twice_must_agree():
    agree = repeated_timings([_timing("a", (1.0, 1.1, 1.2)), _timing("b", (1.1, 1.15, 1.3))])
    assert agree[0].beside_first == ("同一进程、同样的测法，结果一致",)
    with pytest.raises(Disagreement, match="same process under the same conditions"):
        repeated_timings([_timing("a", (1.0, 1.1, 1.2)), _timing("b", (2.0, 2.1, 2.2))])
    # ranges too narrow to overlap, medians 2 % apart: within the tolerance, not a failure
    close = repeated_timings([_timing("a", (1.000, 1.001, 1.002)),
                              _timing("b", (1.020, 1.021, 1.022))])
    assert close[0].beside_first == ("同一进程、同样的测法，结果一致",)
    with pytest.raises(Disagreement):  # 6 % is beyond it
        repeated_timings([_timing("a", (1.000, 1.001, 1.002)), _timing("b", (1.06, 1.061, 1.062))])


def test_every_pair_is_checked_not_only_those_beside_the_first():
    # the first overlaps both others, which do not overlap each other
    with pytest.raises(Disagreement, match="c times the same work as b"):
        repeated_timings([_timing("a", (0.9, 1.0, 1.5, 2.0, 2.1)), _timing("b", (1.0, 1.05, 1.1)),
                          _timing("c", (1.9, 1.95, 2.0))])


def test_what_differs_is_said_and_not_held_against_the_figures():
    found = repeated_timings([
        _timing("a", (1.0, 1.1, 1.2)),
        _timing("b", (2.0, 2.1, 2.2), process="p2"),
        _timing("c", (3.0, 3.1, 3.2), conditions=(("计时方式", "torch.utils.benchmark"),
                                                  ("进程", "与前面的代码同一个进程"))),
        _timing("unnamed", (9.0,), work=""),
        _timing("alone", (9.0,), work="other"),
        _timing("a", (1.0, 1.1, 1.2)),  # the same record bound twice is one measurement
    ])
    assert len(found) == 1 and [t.where for t in found[0].timings] == ["a", "b", "c"]
    assert found[0].beside_first == ("在另一个进程里测得，中位数相差 91%",
                                     "测法不同（计时方式），中位数相差 182%")


def test_a_comparison_made_twice_under_the_same_conditions_must_agree():
    def pair(session, eager, script, process="p1", conditions=SAME):
        return [_timing(f"{session}.eager", eager, "eager", process, conditions, session),
                _timing(f"{session}.script", script, "script", process, conditions, session)]
    faster = pair("s1", (2.0, 2.0, 2.0), (1.0, 1.0, 1.0))
    same = repeated_comparisons(faster + pair("s2", (2.0, 2.1, 2.0), (1.0, 1.0, 1.05)))
    assert same[0].works == ("eager", "script")
    assert same[0].beside_first == ("同一进程、同样的测法，快慢的结论相同，倍数的区间相互重叠",)
    with pytest.raises(Disagreement, match="opposite verdicts"):
        repeated_comparisons(faster + pair("s2", (1.0, 1.0, 1.0), (2.0, 2.0, 2.0)))
    other_way = (("计时方式", "torch.utils.benchmark"), ("进程", "单独的全新进程"))
    differ = repeated_comparisons(faster + pair("s3", (1.0, 1.0, 1.0), (2.0, 2.0, 2.0),
                                                "p9", other_way))
    assert differ[0].beside_first[0].startswith("测法不同（计时方式），在另一个进程里测得，"
                                                "快慢的结论不同")
    # the same way in another process: said, not held against it (a process may run slower)
    elsewhere = repeated_comparisons(faster + pair("s4", (1.0, 1.0, 1.0), (2.0, 2.0, 2.0), "p9"))
    assert elsewhere[0].beside_first[0].startswith("在另一个进程里测得，快慢的结论不同")


def test_every_two_comparisons_are_checked_not_only_those_beside_the_first():
    def pair(session, eager, script):
        return [_timing(f"{session}.e", eager, "eager x", session=session),
                _timing(f"{session}.s", script, "script x", session=session)]
    noisy = pair("s1", (0.7, 1.3, 0.8, 1.2, 1.0), (1.0, 1.0, 1.0, 1.0, 1.0))
    faster = pair("s2", (1.2, 1.2, 1.2, 1.2, 1.2), (1.0, 1.0, 1.0, 1.0, 1.0))
    slower = pair("s3", (0.8, 0.8, 0.8, 0.8, 0.8), (1.0, 1.0, 1.0, 1.0, 1.0))
    assert repeated_comparisons(noisy + faster) and repeated_comparisons(noisy + slower)
    with pytest.raises(Disagreement, match="opposite verdicts"):
        repeated_comparisons(noisy + faster + slower)


def _net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))


def test_work_names_the_model_and_its_input_not_how_it_is_timed():
    net, x = _net(0), torch.randn(1, 8)
    eager = work_of(net, x)
    assert eager.startswith("eager · 模型指纹 ") and eager.endswith("输入 1×8 float32 cpu")
    assert work_of(_net(0), torch.zeros(1, 8)) == eager  # same weights, same shape
    for other in (work_of(_net(1), x), work_of(net, torch.randn(2, 8)),
                  work_of(net.double(), x.double())):
        assert other not in ("", eager)
    net.float()
    torch.manual_seed(0)  # the same weights, another activation: another work
    gelu = nn.Sequential(nn.Linear(8, 4), nn.GELU(), nn.Linear(4, 2))
    assert work_of(gelu, x) != eager
    # the training flag counts where the model's code reads it
    assert work_of(net.eval(), x) == work_of(net.train(), x)
    dropout = nn.Sequential(nn.Linear(8, 4), nn.Dropout())
    assert work_of(dropout.eval(), x) != work_of(dropout.train(), x)
    scripted, traced = torch.jit.script(net), torch.jit.trace(net, x)
    assert work_of(scripted, x).startswith("torch.jit.script · 模型指纹 ")
    assert work_of(torch.jit.script(_net(0).eval()), x) == work_of(scripted, x)
    assert work_of(traced, x).startswith("torch.jit.trace · 模型指纹 ")
    frozen = torch.jit.freeze(torch.jit.script(_net(0).eval()))
    assert work_of(frozen, x) == ""  # no weights to go by
    assert work_of(frozen, x, "frozen", model=net) == eager.replace("eager", "frozen", 1)

    def add_one(t):
        return t + 1
    plain = work_of(add_one, x)
    assert plain.startswith("test_work_names_the_model_and_its_input_not_how_it_is_timed."
                            "<locals>.add_one · 模型指纹 ")
    assert work_of(add_one, torch.tensor(1.0)).endswith("输入 标量 float32 cpu")
    assert work_of(add_one, torch.randn(4, 4).t()).endswith("输入 4×4 float32 cpu 非连续")
    # what cannot be told apart by what is seen is not named (never a false disagreement)
    unnamed = [torch.compile(add_one), torch.compile(net), functools.lru_cache(add_one),
               functools.partial(add_one), lambda t: t + 1, nn.LazyLinear(2)]
    assert [work_of(fn, x) for fn in unnamed] == [""] * len(unnamed)
    assert work_of(add_one, 3) == "" and work_of(net, [x]) == ""


def test_measure_many_names_the_work_of_a_model_and_its_input_only():
    net, x = _net(0), torch.randn(1, 8)
    found = measure_many({"pair": (net, x), "closure": lambda: net(x)}, number=2, repeats=2)
    assert found["pair"].work == work_of(net, x) and found["closure"].work == ""
    assert found["pair"].to_record()["work"] == work_of(net, x)
    assert found["pair"].process_id == found["closure"].process_id != ""


REPEATED_PAGE = """\
# Repeated

```python
--8<-- "snippets/c.py:numbers"
```

{token}
"""

REPEATED_NUMBERS = """\
# --8<-- [start:numbers]
from d2l_compiler import Samples

SAME = (("计时方式", "measure_many"),)
first = Samples("<b id=inj>first</b>", (1.0, 1.1, 1.2), conditions=SAME, work="<i>w</i>")
second = Samples("second", ({second}), conditions=SAME, work="<i>w</i>")
# --8<-- [end:numbers]
"""


def test_the_token_lists_every_repeat_escaped_and_fails_the_build_at_its_line(site):
    site.write("snippets/c.py", REPEATED_NUMBERS.format(second="1.05, 1.1, 1.15"))
    site.write("docs/index.md", REPEATED_PAGE.format(token="{{ d2l:repeated_figures }}"))
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert "本页有 1 个量测了不止一次，共出现在 2 处。" in html
    assert "&#60;i&#62;w&#60;/i&#62;" in html and "<i>w</i>" not in html
    assert "id=inj>" not in html and "同一进程、同样的测法，结果一致" in html
    site.write("snippets/c.py", REPEATED_NUMBERS.format(second="3.0, 3.1, 3.2"))
    site.write("docs/index.md", REPEATED_PAGE.format(token="\n{{ d2l:repeated_figures }}"))
    result = site.build()
    assert result.code == 1
    assert "docs/index.md:8" in result.stderr and "changed the process's speed" in result.stderr
    site.write("snippets/c.py", REPEATED_NUMBERS.replace('work="<i>w</i>")', 'work="")')
               .format(second="3.0, 3.1, 3.2"))
    site.write("docs/index.md", REPEATED_PAGE.format(token="{{ d2l:repeated_figures }}"))
    assert site.build().code == 0
    assert "本页没有哪个量测了不止一次。" in site.html()
    site.write("docs/index.md", REPEATED_PAGE.format(token="{{ d2l:repeated_figures x }}"))
    assert "'repeated_figures' reads" in site.build().stderr


def test_compare_paths_names_each_side_as_the_page_would(monkeypatch):
    from d2l_compiler import compare_paths
    from d2l_compiler.timing import PROCESS_ID

    monkeypatch.setenv("D2L_BENCH_QUICK", "1")
    torch.manual_seed(0)
    net = nn.Linear(512, 2)
    report = compare_paths(net, batch_sizes=(1,), paths=("eager", "script"))
    x = torch.randn(1, 512)
    eager, script = report.results[1]["eager"], report.results[1]["script"]
    # the workers' own copies of the model give the same name as the page's
    assert eager.samples.work == script.paired[0].work == work_of(net, x)
    assert script.paired[1].work == work_of(torch.jit.script(net), x)
    processes = {eager.samples.process_id, script.paired[0].process_id, PROCESS_ID}
    assert len(processes) == 3 and script.paired[0].process_id == script.paired[1].process_id
