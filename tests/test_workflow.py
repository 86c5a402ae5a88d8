"""The CI workflow's shard arguments (``.github/workflows/pages.yml``), evaluated as GitHub
would evaluate them with and without a GPU runner (the repository variable ``GPU_RUNNER``).

Every shard job computes the page split on its own, so all of them must pass the same
``--shard K/N`` count and the same ``--gpu-shards`` list, and between them run every shard
once. The arguments are read from the workflow itself: its ``${{ … }}`` expressions go
through a small evaluator and its shell variables through a small expander, each of which
fails loudly on anything it does not understand (teach it, rather than guess); the arguments
then go through the real command line (``python -m d2l_compiler build``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from d2l_compiler.__main__ import _build_options, _parser
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.run.shard import Shard

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "pages.yml"
GPU_LABEL = "gpu-box"  # what a repository would set GPU_RUNNER to


class NotUnderstood(Exception):
    """The workflow uses an expression or shell construct this test cannot evaluate (not an
    AssertionError: a planted inconsistency must be caught by the checks, not by this)."""


# --- GitHub expressions --------------------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<name>[A-Za-z_][\w.-]*)"
                   r"|(?P<op>&&|\|\||==|!=|!|\(|\)))")

Value = str | bool | None


def _truthy(value: Value) -> bool:
    return value not in (None, False, "")


class _Expression:
    """``or := and ('||' and)*``, ``and := cmp ('&&' cmp)*``, ``cmp := unary (('=='|'!=')
    unary)?``, ``unary := '!' unary | atom``, ``atom := 'string' | vars.X | matrix.X | (or)``,
    with GitHub's (JavaScript's) short-circuit values."""

    def __init__(self, text: str, context: dict[str, dict[str, str]]) -> None:
        self.text, self.context, self.tokens = text, context, []
        at = 0
        while at < len(text.rstrip()):
            match = TOKEN.match(text, at)
            if not match:
                raise NotUnderstood(f"expression {text!r}: cannot read {text[at:]!r}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match[kind]))
            at = match.end()

    def value(self) -> Value:
        found = self._or()
        if self.tokens:
            raise NotUnderstood(f"expression {self.text!r}: unexpected {self.tokens[0][1]!r}")
        return found

    def _take(self, op: str) -> bool:
        if self.tokens and self.tokens[0] == ("op", op):
            self.tokens.pop(0)
            return True
        return False

    def _or(self) -> Value:
        left = self._and()
        while self._take("||"):
            right = self._and()
            left = left if _truthy(left) else right
        return left

    def _and(self) -> Value:
        left = self._compare()
        while self._take("&&"):
            right = self._compare()
            left = right if _truthy(left) else left
        return left

    def _compare(self) -> Value:
        left = self._unary()
        for op in ("==", "!="):
            if self._take(op):
                right = self._unary()
                if not (isinstance(left, str) and isinstance(right, str)):
                    raise NotUnderstood(f"expression {self.text!r}: compares non-strings")
                # GitHub compares strings ignoring case
                return (left.casefold() == right.casefold()) == (op == "==")
        return left

    def _unary(self) -> Value:
        if self._take("!"):
            return not _truthy(self._unary())
        if self._take("("):
            inner = self._or()
            if not self._take(")"):
                raise NotUnderstood(f"expression {self.text!r}: unbalanced parentheses")
            return inner
        if not self.tokens:
            raise NotUnderstood(f"expression {self.text!r}: ends too early")
        kind, token = self.tokens.pop(0)
        if kind == "string":
            return token[1:-1].replace("''", "'")
        scope, _, name = token.partition(".")
        if kind != "name" or scope not in self.context or not name or "." in name:
            raise NotUnderstood(f"expression {self.text!r}: {token!r} is not understood here "
                                f"(known: {', '.join(f'{s}.NAME' for s in self.context)})")
        # an unset repository variable reads as ''; an unknown matrix key is a mistake
        if scope == "matrix" and name not in self.context[scope]:
            raise NotUnderstood(f"expression {self.text!r}: no matrix key {name!r}")
        return self.context[scope].get(name, "")


def _text(value: Value) -> str:
    return {True: "true", False: "false", None: ""}.get(value, value)  # type: ignore[arg-type]


def substitute(text: str, context: dict[str, dict[str, str]]) -> str:
    """``text`` with every ``${{ expression }}`` replaced by its value, as a string."""
    return re.sub(r"\$\{\{(.*?)\}\}",
                  lambda m: _text(_Expression(m[1], context).value()), str(text))


def condition(text: str | bool, context: dict[str, dict[str, str]]) -> bool:
    """A job's ``if:`` (with or without ``${{ }}``; absent: true)."""
    if isinstance(text, bool):
        return text
    inner = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text)
    return _truthy(_Expression(inner[1] if inner else text, context).value())


# --- the shell ---------------------------------------------------------------------------

def expand(line: str, env: dict[str, str]) -> list[str]:
    """A shell command line's words, with ``$NAME`` and ``${NAME}`` from ``env``; anything
    else the shell would compute (arithmetic, substitutions, defaults) is refused, and so are
    single quotes (which would keep a ``$`` literal) and values that need quoting."""
    if re.search(r"\$\(|`|'", line):
        raise NotUnderstood(f"shell construct in {line!r}: only $NAME and ${{NAME}} are expanded")

    def variable(match: re.Match) -> str:
        name = match[1] or match[2]
        if name not in env:
            raise NotUnderstood(f"{line!r}: ${name} is set nowhere in the workflow")
        if not re.fullmatch(r"[\w.,/-]*", env[name]):
            raise NotUnderstood(f"{line!r}: ${name} = {env[name]!r} would need quoting")
        return env[name]

    text = re.sub(r"\$(?:\{(\w+)\}|([A-Za-z_]\w*))", variable, line)
    if "$" in text:
        raise NotUnderstood(f"shell construct in {line!r}: only $NAME and ${{NAME}} are expanded")
    return shlex.split(text)


# --- the jobs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ShardRun:
    """One job (one matrix entry) that runs a shard: its name, device and parsed shard."""

    job: str
    device: str
    shard: Shard


def build_arguments(words: list[str]) -> list[str]:
    """The arguments ``python -m d2l_compiler build`` gets from a command line."""
    if words[:3] == ["nox", "-s", "docs"]:  # the docs session passes its posargs to build
        if words[3:4] != ["--"]:
            raise NotUnderstood(f"{' '.join(words)}: expected `nox -s docs -- ARGS`")
        return words[4:]
    if words[:4] == ["python", "-m", "d2l_compiler", "build"]:
        return words[4:]
    if words[:3] == ["python", "-m", "d2l_compiler.gpu_record"]:  # passes these two on
        rest, passed = words[3:], []
        while rest:
            word, *rest = rest
            if word in ("--shard", "--gpu-shards"):
                if not rest:
                    raise NotUnderstood(f"{' '.join(words)}: {word} without a value")
                value, *rest = rest
                passed += [word, value]
            elif word == "--out" and rest:
                rest = rest[1:]
            else:
                raise NotUnderstood(f"{' '.join(words)}: gpu_record option {word!r} unknown here")
        return passed
    raise NotUnderstood(f"{' '.join(words)}: not a build command this test knows; teach it "
                        "how the command passes --shard and --gpu-shards on")


def _matrices(job: dict) -> list[dict[str, str]]:
    matrix = (job.get("strategy") or {}).get("matrix")
    if matrix is None:
        return [{}]
    if set(matrix) != {"shard"} or not isinstance(matrix["shard"], list):
        raise NotUnderstood(f"matrix {matrix!r}: only a plain `shard: [...]` list is understood")
    return [{"shard": str(value)} for value in matrix["shard"]]


def shard_runs(workflow: dict, gpu_runner: str) -> tuple[list[ShardRun], list[str]]:
    """Every shard the workflow runs when ``vars.GPU_RUNNER`` is ``gpu_runner`` ('' when
    unset), and every CPU matrix shard value (as text)."""
    runs, matrix_values = [], []
    for name, job in workflow["jobs"].items():
        steps = [step for step in job.get("steps", ()) if "--shard" in step.get("run", "")]
        if not steps:
            continue
        if len(steps) != 1:
            raise NotUnderstood(f"job {name}: {len(steps)} steps pass --shard")
        for matrix in _matrices(job):
            context = {"vars": {"GPU_RUNNER": gpu_runner}, "matrix": matrix,
                       "github": {"server_url": "https://github.com", "repository": "owner/book"}}
            if not condition(job.get("if", True), context):
                continue
            env: dict[str, str] = {}  # the workflow's, the job's, then the step's
            for scope in (workflow.get("env"), job.get("env"), steps[0].get("env")):
                env.update({k: substitute(v, context) for k, v in (scope or {}).items()})
            device = env.get("D2L_DEVICE")
            if device not in ("cpu", "cuda"):
                raise NotUnderstood(f"job {name}: D2L_DEVICE is {device!r}, not cpu or cuda")
            if device == "cpu":
                matrix_values += matrix.values()
            lines = [line for line in substitute(steps[0]["run"], context)
                     .replace("\\\n", " ").splitlines() if "--shard" in line]
            if len(lines) != 1:
                raise NotUnderstood(f"job {name}: {len(lines)} command lines pass --shard")
            args = _parser().parse_args(["build", *build_arguments(expand(lines[0], env))])
            shard = _build_options(args).shard
            assert shard is not None, f"job {name}: no --shard"
            runs.append(ShardRun(f"{name}{matrix or ''}", device, shard))
    return runs, matrix_values


def check_shards(workflow: dict, gpu_runner: str) -> list[ShardRun]:
    """Assert the jobs' shard arguments describe one consistent split; its runs."""
    runs, matrix_values = shard_runs(workflow, gpu_runner)
    assert runs, "no job passes --shard"
    splits = {(run.shard.count, run.shard.gpu_shards) for run in runs}
    assert len(splits) == 1, f"the jobs disagree on N or the GPU shards: {runs}"
    count, gpus = splits.pop()
    indexes = sorted(run.shard.index for run in runs)
    assert indexes == list(range(1, count + 1)), \
        f"shards 1..{count} must each run exactly once, not {indexes}: {runs}"
    assert {str(run.shard.index) for run in runs if run.device == "cpu"} == set(matrix_values)
    for run in runs:  # the split sends GPU pages to the GPU shards: those must have one
        assert (run.shard.index in gpus) == (run.device == "cuda"), run
    return runs


def _workflow(text: str | None = None) -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8") if text is None else text)


# --- the tests ---------------------------------------------------------------------------

def test_without_a_gpu_runner_the_cpu_shards_split_the_book_between_them():
    runs = check_shards(_workflow(), gpu_runner="")
    assert {run.device for run in runs} == {"cpu"}
    assert all(run.shard.gpu_shards == frozenset() for run in runs)


def test_with_a_gpu_runner_every_job_counts_the_gpu_shard_too():
    without = check_shards(_workflow(), gpu_runner="")
    runs = check_shards(_workflow(), gpu_runner=GPU_LABEL)
    count = runs[0].shard.count
    assert [run.shard.index for run in runs if run.device == "cuda"] == [count]  # the last
    assert runs[0].shard.gpu_shards == frozenset({count})
    assert count == len(without) + 1  # the same CPU shards, and one more


def _planted(old: str, new: str) -> dict:
    text = WORKFLOW.read_text(encoding="utf-8")
    if text.count(old) != 1:  # pytest.fail: never mistaken for the error a case expects
        pytest.fail(f"the workflow changed: re-plant {old!r}")
    return _workflow(text.replace(old, new))


CPU_LINE = '--shard "${{ matrix.shard }}/$SHARD_COUNT" --gpu-shards "$GPU_SHARDS"'
GPU_LINE = '--shard "$GPU_SHARDS/$SHARD_COUNT" --gpu-shards "$GPU_SHARDS"'


@pytest.mark.parametrize("old, new, gpu_runner, error, match", [
    # the original bug: the CPU shards counted only themselves, the GPU shard one more
    (CPU_LINE, "--shard ${{ matrix.shard }}/2 --gpu-shards \"${{ vars.GPU_RUNNER && '3' || '' }}\"",
     GPU_LABEL, UsageError, "--gpu-shards '3': expected shard numbers between 1 and 2"),
    (GPU_LINE, '--shard "$GPU_SHARDS/4" --gpu-shards "$GPU_SHARDS"', GPU_LABEL,
     AssertionError, "disagree on N"),
    (CPU_LINE, '--shard "${{ matrix.shard }}/$SHARD_COUNT"', GPU_LABEL,
     AssertionError, "disagree on N or the GPU shards"),  # CPU shards that miss the GPU list
    ("shard: [1, 2]", "shard: [1]", "", AssertionError, "must each run exactly once"),
    ("shard: [1, 2]", "shard: [1, 2, 3]", GPU_LABEL, AssertionError, "exactly once"),
    ("shard: [1, 2]", "shard: [2, 1]", "", None, None),  # the order is no matter
    (GPU_LINE, '--shard "$GPU_SHARDS/$SHARD_COUNT" \\\n            --gpu-shards "$GPU_SHARDS"',
     GPU_LABEL, None, None),  # a continued line is one command
    (GPU_LINE, '--shard "$GPU_SHARDS/$((SHARD_COUNT))" --gpu-shards "$GPU_SHARDS"', GPU_LABEL,
     NotUnderstood, "shell construct"),
    ("${{ matrix.shard }}/", "${{ format('{0}', matrix.shard) }}/", "", NotUnderstood,
     "cannot read"),
    ("${{ matrix.shard }}/", "${{ strategy.job-index }}/", "", NotUnderstood,
     "'strategy.job-index' is not understood here"),
])
def test_a_planted_inconsistency_fails_the_check(old, new, gpu_runner, error, match):
    planted = _planted(old, new)
    if error is None:
        check_shards(planted, gpu_runner)
        return
    with pytest.raises(error, match=match):
        check_shards(planted, gpu_runner)


@pytest.mark.parametrize("expression, value", [
    ("vars.GPU_RUNNER && '3' || '2'", "3"), ("vars.NOTHING && '3' || '2'", "2"),
    ("vars.GPU_RUNNER != ''", True), ("!(vars.NOTHING == '')", False), ("'it''s'", "it's"),
])
def test_the_expression_evaluator(expression, value):
    assert _Expression(expression, {"vars": {"GPU_RUNNER": GPU_LABEL}}).value() == value


@pytest.mark.parametrize("expression", ["github.sha", "fromJSON('[1]')", "1 + 2", "'a' &&"])
def test_the_expression_evaluator_refuses_what_it_does_not_know(expression):
    with pytest.raises(NotUnderstood):
        _Expression(expression, {"vars": {}, "matrix": {}}).value()
