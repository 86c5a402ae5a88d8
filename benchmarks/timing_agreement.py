"""How far can the chapter's numbers be trusted?

1. The seed's ``Benchmark`` (1000 calls, one sample) against ``torch.utils.benchmark`` on the
   same work: ratio of per-call times (goal: within 10 %).
2. Run-to-run spread of the compiled/eager speed-up: the measurement repeated in fresh
   processes, as separate builds would (goal: coefficient of variation <= 5 %).
3. Stability of the verdicts the chapter prints ("faster" / "slower" / "within noise"): the
   chapter's interleaved eager-vs-scripted comparison (autograd on, and under no_grad) and each
   path's verdict against eager, over the same fresh processes; a flip is a build whose
   verdict differs from the majority's (goal: no flips).

Run with ``nox -s bench`` (or ``python -m benchmarks.timing_agreement [RUNS]``).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from benchmarks.common import ROOT, summary, write_report

_ONE_BUILD = """
import json, torch
from d2l_compiler import Benchmark, compare_paths, get_net, measure_call
torch.manual_seed(0)
net = get_net().eval()
x = torch.randn(1, 512)
seed = []
with torch.no_grad():
    for _ in range(7):
        with Benchmark("seed") as b:
            for _ in range(1000):
                net(x)
        seed.append(b.seconds / 1000)
    careful = measure_call(net, x, "careful").median
report = compare_paths(net, batch_sizes=(1, 256), paths=("eager", "script", "compile", "export_aoti"))
from d2l_compiler import measure_many, verdict
scripted = torch.jit.script(net)
work = {"eager": lambda: net(x), "scripted": lambda: scripted(x)}
autograd = measure_many(work, number=1000, repeats=15, warmup=1)
with torch.no_grad():
    no_grad = measure_many(work, number=1000, repeats=15, warmup=1)
verdicts = {name: verdict(t["eager"].to_record(), t["scripted"].to_record())
            for name, t in (("eager vs scripted", autograd), ("eager vs scripted, no_grad", no_grad))}
print(json.dumps({"seed_per_call": seed, "careful": careful, "paths": report.to_record(),
                  "verdicts": verdicts}))
"""


def one_build() -> dict:
    proc = subprocess.run([sys.executable, "-c", _ONE_BUILD], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"error: measurement failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


def flips(verdicts: list[str]) -> int:
    """Builds whose verdict differs from the most common one."""
    return len(verdicts) - max(verdicts.count(v) for v in set(verdicts))


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    builds = [one_build() for _ in range(runs)]
    agreement = [statistics.median(b["seed_per_call"]) / b["careful"] for b in builds]
    single = [b["seed_per_call"][0] / b["careful"] for b in builds]
    spread = {}
    for batch in ("1", "256"):
        for path in ("script", "compile", "export_aoti"):
            ratios = [b["paths"]["batches"][batch][path]["speedup"] for b in builds]
            spread[f"{path}@{batch}"] = {"speedups": ratios, "mean": statistics.mean(ratios),
                                         "cv": cv(ratios)}
    verdicts = {name: [b["verdicts"][name] for b in builds] for name in builds[0]["verdicts"]}
    for batch in ("1", "256"):
        for path in ("script", "compile", "export_aoti"):
            verdicts[f"{path}@{batch} vs eager"] = [b["paths"]["batches"][batch][path]["vs_eager"]
                                                    for b in builds]
    stability = {name: {"verdicts": seen, "flips": flips(seen)} for name, seen in verdicts.items()}
    report = {"runs": runs, "seed_vs_careful": {"median_of_7": summary(agreement),
                                                 "single_sample": summary(single)},
              "speedup_spread": spread, "verdict_stability": stability}
    print(f"timing agreement over {runs} fresh processes")
    print(f"Benchmark/torch.utils.benchmark per-call ratio: median-of-7 "
          f"{report['seed_vs_careful']['median_of_7']['median']:.3f}, single sample "
          f"{report['seed_vs_careful']['single_sample']['median']:.3f} (goal: 0.90-1.10)")
    print(f"{'speed-up vs eager':<22}{'mean':>8}{'CV':>8}   (goal: CV <= 5 %)")
    for name, data in spread.items():
        print(f"{name:<22}{data['mean']:>8.3f}{data['cv'] * 100:>7.1f}%")
    print(f"{'verdict':<34}{'flips':>6}   (goal: 0 of {runs})")
    for name, data in stability.items():
        print(f"{name:<34}{data['flips']:>6}   {', '.join(data['verdicts'])}")
    print(f"report: {write_report('timing-agreement', report)}")


if __name__ == "__main__":
    main()
