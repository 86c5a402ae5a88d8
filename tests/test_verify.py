"""``build --verify``: two builds from scratch in scratch state directories, compared region by
region with the project's record; stale regions fail (exit 1), nondeterministic ones are
named but do not, and nothing of the project (state directory, store, docs, site) is written.
Fixture pages, no torch."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest

from d2l_compiler.__main__ import main
from d2l_compiler.engine.build import BuildOptions, build
from d2l_compiler.engine.progress import PlainProgress
from conftest import seal
from d2l_compiler.engine.record.io import load_record, write_json_atomic
from d2l_compiler.engine.run.runner import Limits
from d2l_compiler.engine.sources.project import Project

REGIONS = [("a", "x = 1\nprint('a', x)"),
           ("b", "y = x + 1\nprint('b', y)"),
           ("c", "print('c', 7)")]


def _write(root: Path, regions: list[tuple[str, str]], page: str = "p.md") -> None:
    """``docs/<page>`` including each region of ``snippets/s.py`` in the order given."""
    (root / "snippets").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "mkdocs.yml").write_text("site_name: t\nplugins:\n  - d2l\n")
    (root / "snippets" / "s.py").write_text("".join(
        f"# --8<-- [start:{name}]\n{code}\n# --8<-- [end:{name}]\n" for name, code in regions))
    (root / "docs" / page).write_text("# p\n\n" + "".join(
        f'```python\n--8<-- "snippets/s.py:{name}"\n```\n\ntext\n\n' for name, _ in regions))


def _build(root: Path) -> None:
    build(Project(root / "mkdocs.yml"), BuildOptions(limits=Limits(timeout=60)), None,
          PlainProgress(io.StringIO()))


def _verify(root: Path, capsys, *extra: str) -> tuple[int, list[str], str]:
    """Exit status, the lines naming regions, and stderr of ``build --verify``."""
    status = main(["build", "--config", str(root / "mkdocs.yml"), "--verify", "--timeout", "60",
                   "--jobs", "1", *extra])
    out, err = capsys.readouterr()
    named = [line for line in out.splitlines() if re.search(r": (stale|nondeterministic) \(", line)]
    summary = [line for line in out.splitlines() if line.startswith("verify: ") and "compared" in line]
    assert len(summary) == 1, out
    return status, named, err


def _tree(*folders: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folders``: its content digest and modification time."""
    return {str(path): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for folder in folders if folder.exists()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_fresh_record_verifies_clean_and_nothing_of_the_project_is_written(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("D2L_STORE_DIR", "shared-store")  # a CI cache: verify must not use it
    _write(tmp_path, REGIONS)
    _build(tmp_path)
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>published</p>")
    folders = [tmp_path / ".d2l", tmp_path / "shared-store", tmp_path / "docs", site]
    before = _tree(*folders)
    assert any("shared-store" in path for path in before) and any(
        "generated" in path for path in before)  # the tree compared holds what a build writes
    status, named, _ = _verify(tmp_path, capsys)
    assert (status, named) == (0, [])
    assert _tree(*folders) == before


def _restamp_stdout(root: Path, page: str, region: str, stdout: str) -> None:
    """Change a recorded stdout by hand and re-seal the page (so it is not refused as edited)."""
    path = root / ".d2l" / "record.json"
    data = json.loads(path.read_text())
    entry = data["pages"][page]
    for include in entry["regions"]:
        if include["id"] == f"snippets/s.py:{region}":
            include["run"]["stdout"] = stdout
    data["pages"][page] = seal(entry)
    write_json_atomic(path, data)
    assert load_record(path).pages[page].executed[1].run.stdout == stdout  # read back intact


def test_a_region_whose_record_differs_from_a_build_from_scratch_is_stale(tmp_path, capsys):
    _write(tmp_path, REGIONS)
    _build(tmp_path)
    _restamp_stdout(tmp_path, "p.md", "b", "b 999\n")
    status, named, _ = _verify(tmp_path, capsys)
    assert status == 1
    # page:line of the fence's include, snippet:line of the region's first code line
    assert named == ["p.md:10  snippets/s.py:6  snippets/s.py:b: stale "
                     "(record / scratch: stdout: 'b 999' / 'b 2')"]


def test_a_source_edited_since_the_record_shows_as_stale(tmp_path, capsys):
    _write(tmp_path, REGIONS)
    _build(tmp_path)
    _write(tmp_path, [*REGIONS[:2], ("c", "print('c', 8)")])  # edited, not rebuilt
    status, named, _ = _verify(tmp_path, capsys)
    assert status == 1
    assert [line.split(": stale")[0] for line in named] == ["p.md:16  snippets/s.py:10  "
                                                            "snippets/s.py:c"]
    assert "'c 7' / 'c 8'" in named[0]


def test_a_recorded_region_the_page_no_longer_runs_is_stale(tmp_path, capsys):
    _write(tmp_path, REGIONS)
    _build(tmp_path)
    _write(tmp_path, REGIONS[:2])
    status, named, _ = _verify(tmp_path, capsys)
    assert status == 1
    assert len(named) == 1 and "snippets/s.py:c: stale (the page no longer runs it)" in named[0]


def test_an_unseeded_random_region_is_nondeterministic_not_stale(tmp_path, capsys):
    _write(tmp_path, [("r", "import random\nprint(random.random())"), ("c", "print('c', 7)")])
    _build(tmp_path)
    status, named, _ = _verify(tmp_path, capsys)
    assert status == 0  # reported, not fatal
    assert len(named) == 1
    assert named[0].startswith("p.md:4  snippets/s.py:2  snippets/s.py:r: nondeterministic "
                               "(run 1 / run 2: stdout: '0.")


def test_only_verifies_the_page_named(tmp_path, capsys):
    _write(tmp_path, REGIONS)
    (tmp_path / "docs" / "q.md").write_text('```python\n--8<-- "snippets/s.py:c"\n```\n')
    _build(tmp_path)
    _restamp_stdout(tmp_path, "p.md", "b", "b 999\n")
    assert _verify(tmp_path, capsys, "--only", "q.md")[:2] == (0, [])
    status, named, _ = _verify(tmp_path, capsys, "--only", "p.md")
    assert status == 1 and len(named) == 1


def test_without_a_record_it_says_to_build_first_in_one_line(tmp_path, capsys):
    _write(tmp_path, REGIONS)
    status = main(["build", "--config", str(tmp_path / "mkdocs.yml"), "--verify"])
    out, err = capsys.readouterr()
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "build first" in err
    assert not (tmp_path / ".d2l" / "record.json").exists()


@pytest.mark.parametrize("flags", [["--shard", "1/2"]])
def test_verify_refuses_a_shard(tmp_path, capsys, flags):
    _write(tmp_path, REGIONS)
    assert main(["build", "--config", str(tmp_path / "mkdocs.yml"), "--verify", *flags]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_a_region_that_fails_from_scratch_fails_verification_in_a_few_lines(tmp_path, capsys):
    (tmp_path / "data.txt").write_text("42\n")
    _write(tmp_path, [("a", f"print(open({str(tmp_path / 'data.txt')!r}).read())")])
    _build(tmp_path)
    (tmp_path / "data.txt").unlink()  # the record shows what no build can show any more
    status = main(["build", "--config", str(tmp_path / "mkdocs.yml"), "--verify"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: a build from scratch fails") and "FileNotFoundError" in err


def test_every_field_a_reader_sees_is_compared_and_nothing_else():
    from d2l_compiler.engine.record.model import (CapturedWarning, Fault, RegionError,
                                                  RegionRun, Status)
    from d2l_compiler.engine.verify import RegionOutput

    base = RegionRun(0, "s.py:a", stdout="one\ntwo\n", values={"x": 1})
    seen = {"status": RegionRun(0, "s.py:a", status=Status.ERROR, stdout="one\ntwo\n",
                                values={"x": 1}),
            "stdout": RegionRun(0, "s.py:a", stdout="one\nTWO\n", values={"x": 1}),
            "raised": RegionRun(0, "s.py:a", stdout="one\ntwo\n", raised="ValueError: no",
                                values={"x": 1}),
            "error": RegionRun(0, "s.py:a", stdout="one\ntwo\n", values={"x": 1},
                               error=RegionError(Fault.EXCEPTION, "ValueError", "no")),
            "values": RegionRun(0, "s.py:a", stdout="one\ntwo\n", values={"x": 2}),
            "warnings": RegionRun(0, "s.py:a", stdout="one\ntwo\n", values={"x": 1},
                                  warnings=(CapturedWarning("UserWarning", "careful"),))}
    for name, run in seen.items():
        difference = RegionOutput.of(base).first_difference(RegionOutput.of(run))
        assert difference is not None and difference.startswith(f"{name}: "), name
    assert RegionOutput.of(base).first_difference(RegionOutput.of(seen["stdout"])) == \
        "stdout: 'two' / 'TWO'"  # the first line that differs, not the whole output
    no_newline = RegionRun(0, "s.py:a", stdout="one\ntwo", values={"x": 1})
    assert RegionOutput.of(base).first_difference(RegionOutput.of(no_newline)) == \
        "stdout: '' / (none)"  # a missing final newline is a difference too
    unseen = RegionRun(0, "s.py:a", duration=9.0, stdout="one\ntwo\n", values={"x": 1},
                       seen={"env:TZ": "abc"}, state_before={"x": "def"})
    assert RegionOutput.of(base).first_difference(RegionOutput.of(unseen)) is None
