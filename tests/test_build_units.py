"""The build orchestration in-process (``build`` with ``site_dir=None``: regions run in real
child processes, no MkDocs). Fast guards for ``nox -s mutation``."""

from __future__ import annotations

import io
import json

import pytest

from d2l_compiler.engine.build import BuildOptions, BuildSummary, build, last_build_path
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.progress import PlainProgress
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.run.runner import Limits
from d2l_compiler.engine.sources.project import Project
from conftest import running


def _project(tmp_path, pages: dict[str, str]) -> Project:
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nmarkdown_extensions: [pymdownx.superfences, "
                                         "pymdownx.snippets]\nplugins:\n  - d2l\n")
    (tmp_path / "snippets").mkdir()
    (tmp_path / "docs").mkdir()
    for name, code in pages.items():
        (tmp_path / "snippets" / f"{name}.py").write_text(
            f"# --8<-- [start:{name}]\n{code}\n# --8<-- [end:{name}]\n")
        (tmp_path / "docs" / f"{name}.md").write_text(
            f'# {name}\n\n```python\n--8<-- "snippets/{name}.py:{name}"\n```\n')
    return Project(tmp_path / "mkdocs.yml")


def _build(project: Project, **options) -> tuple[BuildSummary, str]:
    stream = io.StringIO()
    summary = build(project, BuildOptions(limits=Limits(timeout=60), **options), None,
                    PlainProgress(stream))
    return summary, stream.getvalue()


def test_summary_line():
    summary = BuildSummary(["a"], ["b", "c"], [], 1.25, ["a: s.py:x", "a: s.py:y"], 5)
    assert str(summary) == "pages: 1 run, 2 cached, 0 failed; regions: 2 run, 5 cached; 1.2 s"
    assert str(BuildSummary(seconds=0.06)).endswith("0 failed; regions: 0 run, 0 cached; 0.1 s")
    assert str(BuildSummary()) == "pages: 0 run, 0 cached, 0 failed; regions: 0 run, 0 cached; 0.0 s"


def test_a_second_build_reuses_everything_and_force_reruns(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print('A')", "b": "x = 2"})
    first, lines = _build(project)
    assert (first.ran, first.cached, first.failed) == (["a.md", "b.md"], [], [])
    assert "running a.md (1 regions) ..." in lines
    record = load_record(project.record_path)
    assert record.pages["a.md"].ran and record.pages["a.md"].regions[0].run.stdout == "A\n"
    assert record.provenance.summary.ran == ("a.md", "b.md") and record.provenance.device == "cpu"
    written = project.record_path.read_bytes()
    second, lines = _build(project)
    assert (second.ran, second.cached) == ([], ["a.md", "b.md"])
    assert "cached  a.md" in lines
    # a build that ran nothing and changed nothing leaves the record (and the site) as the
    # build that produced these results wrote it: its date, and which pages it ran
    assert project.record_path.read_bytes() == written
    # what the no-op build itself did is kept beside it
    last = json.loads(last_build_path(project).read_text())
    assert (last["ran"], last["cached"], last["regions_ran"]) == ([], ["a.md", "b.md"], [])
    snippet = project.root / "snippets" / "b.py"
    snippet.write_text(snippet.read_text().replace("x = 2", "x = 3"))
    assert _build(project)[0].ran == ["b.md"]
    rewritten = load_record(project.record_path)  # describes the build that ran b.md
    assert rewritten.provenance.summary.ran == ("b.md",) and not rewritten.pages["a.md"].ran
    forced, _ = _build(project, force=True)
    assert forced.ran == ["a.md", "b.md"]
    only, _ = _build(project, only="b.md", force=True)
    assert only.ran == ["b.md"] and set(load_record(project.record_path).pages) == {"a.md", "b.md"}


def test_a_failing_page_leaves_the_record_and_keeps_the_others_results(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print('A')", "b": "print('B')"})
    _build(project)
    before = project.record_path.read_bytes()
    (tmp_path / "snippets" / "a.py").write_text("# --8<-- [start:a]\nprint('A2')\n# --8<-- [end:a]\n")
    (tmp_path / "snippets" / "b.py").write_text("# --8<-- [start:b]\n1 / 0\n# --8<-- [end:b]\n")
    with pytest.raises(BuildError) as error:
        _build(project)
    message = str(error.value)
    assert "region 'b' failed: exception: ZeroDivisionError" in message
    assert "full log: " in message and message.rstrip().endswith(
        "the record and the site were left unchanged")
    assert "build failed (pages: 1 run, 0 cached, 1 failed" in message
    assert project.record_path.read_bytes() == before
    assert json.loads(last_build_path(project).read_text())["failed"] == ["b.md"]
    (tmp_path / "snippets" / "b.py").write_text("# --8<-- [start:b]\nprint('B')\n# --8<-- [end:b]\n")
    again, _ = _build(project)
    assert again.ran == [] and again.cached == ["a.md", "b.md"]  # a's new result was kept


def test_unused_store_entries_are_kept_up_to_a_bound_then_collected(tmp_path, monkeypatch):
    from d2l_compiler.engine import build as build_module

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    monkeypatch.setattr(build_module, "SPARE_RESULTS", 1)
    project = _project(tmp_path, {"a": "print(1)"})

    def build_with(value: int) -> tuple[BuildSummary, str]:
        (tmp_path / "snippets" / "a.py").write_text(
            f"# --8<-- [start:a]\nprint({value})\n# --8<-- [end:a]\n")
        summary, _ = _build(project)
        return summary, load_record(project.record_path).pages["a.md"].inputs.region_keys[0][1]
    build_with(1)
    _, second = build_with(2)
    undo, _ = build_with(1)  # undoing an edit finds the old result
    assert undo.regions_ran == [] and undo.regions_cached == 1
    _, third = build_with(3)  # print(1) and print(2) are unused now: only the newer is kept
    assert sorted(p.name for p in (project.state_dir / "store").iterdir()) == sorted([second, third])
    (project.state_dir / "store" / ".half-written").mkdir()
    _build(project)
    assert not (project.state_dir / "store" / ".half-written").exists()


def test_a_region_that_edits_the_sources_fails_the_build(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    page = tmp_path / "docs" / "a.md"
    # by another process: a write of the region's own is refused as it happens (project_guard);
    # this one is seen when the page ends, by the snapshot of the project's files
    project = _project(tmp_path, {"a": "import subprocess\nsubprocess.run(['sh', '-c', "
                                       f"'printf more >> {page}']);"})
    with pytest.raises(BuildError, match=r"files in the project changed while its code ran "
                                         r"\(docs/a.md\)"):
        _build(project)
    assert not project.record_path.exists()


def test_the_notebook_and_record_are_written_after_a_good_build(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print('nb')"})
    _build(project)
    notebook = json.loads((tmp_path / "docs" / "generated" / "a.ipynb").read_text())
    assert notebook["cells"][1]["outputs"][0]["text"] == ["nb\n"]
    assert load_record(project.record_path).pages["a.md"].digest


def test_the_record_forgets_deleted_pages_and_names_the_python(tmp_path, monkeypatch):
    import platform
    import time

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print(1)", "b": "print(2)"})
    started = time.perf_counter()
    summary, _ = _build(project)
    assert 0 < summary.seconds <= time.perf_counter() - started
    (tmp_path / "docs" / "b.md").unlink()
    _build(project)
    record = load_record(project.record_path)
    assert set(record.pages) == {"a.md"}
    assert record.provenance.python == platform.python_version()
    again, _ = _build(project, force=True)
    assert load_record(project.record_path).provenance.summary.seconds == round(again.seconds, 3)


def test_a_nested_state_dir_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print(1)"})
    (tmp_path / "mkdocs.yml").write_text("site_name: t\nplugins:\n  - d2l:\n      state_dir: build/state\n")
    project = Project(tmp_path / "mkdocs.yml")
    _build(project)
    assert (tmp_path / "build" / "state" / "record.json").is_file()


def test_sources_changed_mid_build_are_listed_five_at_most(tmp_path, monkeypatch):
    """An author's edits saved while the build runs, between its pages (no page's process
    was running: the build's own check of its sources sees them)."""
    from d2l_compiler.engine import build as build_module

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    docs = tmp_path / "docs"
    project = _project(tmp_path, {"a": "print(1)"})
    run_pages = build_module._run

    def then_edit(*args, **kwargs):
        outcomes = run_pages(*args, **kwargs)
        for n in range(7):
            (docs / f"p{n}.md").write_text("x")
        return outcomes
    monkeypatch.setattr(build_module, "_run", then_edit)
    with pytest.raises(BuildError, match="sources changed while the build ran") as error:
        _build(project)
    listed = str(error.value).split("(")[1].split(")")[0].split(", ")
    assert listed == ["docs/p0.md", "docs/p1.md", "docs/p2.md", "docs/p3.md", "docs/p4.md"]


def test_files_a_region_changed_through_another_process_are_listed_five_at_most(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    docs = tmp_path / "docs"
    code = ("import subprocess\nsubprocess.run(['sh', '-c', "  # another process: unseen by the hook
            f"'for n in 0 1 2 3 4 5 6; do printf x > {docs}/p$n.md; done']);")
    project = _project(tmp_path, {"a": code})
    with pytest.raises(BuildError, match="files in the project changed while its code ran") as error:
        _build(project)
    listed = str(error.value).split("(")[1].split(")")[0].split(", ")
    assert listed == ["docs/p0.md", "docs/p1.md", "docs/p2.md", "docs/p3.md", "docs/p4.md and 2 more"]


def test_progress_lines_reach_a_pipe_while_the_build_runs(tmp_path):
    """CI logs show each step as it happens, and keep it if the build is killed."""
    import os
    import select
    import signal
    import subprocess
    import sys

    _project(tmp_path, {"a": "import time\ntime.sleep(120)"})
    proc = subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build", "--no-site"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
                                 "D2L_DEVICE": "cpu"})  # a pipe: block-buffered unless flushed
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no progress line while the page runs"
        assert proc.stdout.readline().startswith(b"running a.md (1 regions)")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def test_derived_files_are_written_from_the_whole_record(tmp_path, monkeypatch):
    from d2l_compiler.engine import build as build_module
    from d2l_compiler.engine.render.tokens import Extensions

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "v = 3"})
    seen = []
    extensions = Extensions(derived=[lambda docs, record: seen.append((docs, sorted(record.pages)))])
    monkeypatch.setattr(build_module, "extensions_for", lambda names: extensions)
    _build(project)
    assert seen == [(tmp_path / "docs", ["a.md"])]


def test_build_site_publishes_only_a_strict_build(tmp_path, monkeypatch):
    from d2l_compiler.engine.errors import UsageError
    from d2l_compiler.engine.publish.mkdocs_plugin import build_site
    from d2l_compiler.engine.publish.sitedir import MARK

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print('published')"})
    _build(project)
    site = tmp_path / "out"
    build_site(project, site)
    assert "published" in (site / "a" / "index.html").read_text() and (site / MARK).is_file()
    assert (site / "d2l-record.json").is_file()
    with pytest.raises(UsageError, match="which the build needs"):
        build_site(project, tmp_path)  # the default protected paths include the project
    before = sorted(p.relative_to(site) for p in site.rglob("*"))
    links = "".join(f"[broken {n}](missing{n}.md)\n\n" for n in range(25))
    (tmp_path / "docs" / "a.md").write_text((tmp_path / "docs" / "a.md").read_text() + links)
    with pytest.raises(BuildError) as error:
        build_site(project, site)
    message = str(error.value)
    assert message.startswith(f"mkdocs build --strict failed; {site.resolve()} left unchanged:")
    warnings = [line for line in message.splitlines() if line.startswith("WARNING: ")]
    assert len(warnings) == 20 and "missing24.md" in warnings[-1]  # the last 20 warnings
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site-")] == []
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    with pytest.raises(UsageError, match="does not load the d2l renderer"):
        build_site(Project(tmp_path / "mkdocs.yml"), site)


def test_a_shown_region_that_changed_makes_its_page_stale(tmp_path, monkeypatch):
    from d2l_compiler.engine.record.freshness import check

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print(1)"})
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "b.py").write_text("# --8<-- [start:s]\nshown = 1\n# --8<-- [end:s]\n")
    page = tmp_path / "docs" / "a.md"
    page.write_text(page.read_text() + '\n```python\n--8<-- "lib/b.py:s"\n```\n')
    _build(project)
    assert check(project) == {"a.md": []}
    (tmp_path / "lib" / "b.py").write_text("# --8<-- [start:s]\nshown = 2\n# --8<-- [end:s]\n")
    assert check(project) == {"a.md": ["lib/b.py:s (shown) changed since the build"]}
    _build(project)
    page.write_text(page.read_text() + '\n```python\n--8<-- "lib/b.py:s"\n```\n')  # shown twice now
    assert check(project) == {"a.md": ["the page includes other regions than when it was built"]}


def test_site_publishing_failures_are_reported_even_if_cleanup_fails(tmp_path, monkeypatch):
    import os

    from d2l_compiler.engine.errors import UsageError
    from d2l_compiler.engine.publish.mkdocs_plugin import build_site

    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = _project(tmp_path, {"a": "print(1)"})
    _build(project)
    nested = tmp_path / "deep" / "er" / "site"
    build_site(project, nested)  # missing parents are created
    assert (nested / "index.html").is_file() or (nested / "a" / "index.html").is_file()
    def stubborn(real):  # nothing in a staging directory can be deleted
        def remove(path, *args, **kwargs):
            if ".site-" in str(path) or kwargs.get("dir_fd") is not None:
                raise PermissionError("busy")
            return real(path, *args, **kwargs)
        return remove
    page = tmp_path / "docs" / "a.md"
    page.write_text(page.read_text() + "\n[broken](missing.md)\n")
    monkeypatch.setattr(os, "unlink", stubborn(os.unlink))
    monkeypatch.setattr(os, "rmdir", stubborn(os.rmdir))
    with pytest.raises(BuildError, match="mkdocs build --strict failed"):
        build_site(project, tmp_path / "site2")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n")
    with pytest.raises(UsageError, match="does not load the d2l renderer"):
        build_site(Project(tmp_path / "mkdocs.yml"), tmp_path / "site3")


def test_a_malformed_record_is_one_plugin_error(tmp_path):
    from mkdocs.config import load_config
    from mkdocs.exceptions import PluginError

    from d2l_compiler.engine.publish.mkdocs_plugin import D2LPlugin

    project = _project(tmp_path, {"a": "print(1)"})
    project.state_dir.mkdir()
    project.record_path.write_text("[1, 2]")
    plugin = D2LPlugin()
    with pytest.raises(PluginError, match=r"malformed build record .*; run `python -m d2l_compiler build`"):
        plugin.on_config(load_config(str(tmp_path / "mkdocs.yml")))
    project.record_path.unlink()
    with pytest.raises(PluginError, match="no build record at"):
        plugin.on_config(load_config(str(tmp_path / "mkdocs.yml")))


def test_a_page_process_dies_with_a_killed_engine(tmp_path):
    """PR_SET_PDEATHSIG: even SIGKILL of the engine (no clean-up possible) takes the page along."""
    import os
    import select
    import signal
    import subprocess
    import sys
    import time

    from d2l_compiler.engine.run.procs import descendants

    _project(tmp_path, {"a": "import time\ntime.sleep(120)"})
    engine = subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build", "--no-site"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env={**os.environ, "D2L_DEVICE": "cpu", "PYTHONUNBUFFERED": "1"})
    try:
        assert select.select([engine.stdout], [], [], 30)[0] and engine.stdout.readline()
        deadline = time.monotonic() + 30
        while not (pages := descendants(engine.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pages
    finally:
        engine.kill()
        engine.wait(30)
    deadline = time.monotonic() + 20
    alive = pages
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in pages if running(pid)}
        time.sleep(0.05)
    for pid in alive:  # do not leave it behind if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive
