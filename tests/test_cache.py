"""The content key and the cache: everything that can change an output re-runs, nothing else."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FixtureSite, pages_ran, page_key
from d2l_compiler.engine import build as engine
from d2l_compiler.engine.run import jobs
from d2l_compiler.engine.sources import key
from d2l_compiler.engine.sources.discover import Region
from d2l_compiler.engine.build import BuildOptions
from d2l_compiler.engine.sources.project import find_project


def _region(code: str, path: str = "snippets/a.py", section: str = "r") -> Region:
    return Region(path, section, 2, code)


def test_key_is_stable_and_sensitive(tmp_path):
    (tmp_path / "data.txt").write_text("1")
    base = [_region("x = 1\n")]
    assert page_key(tmp_path, base, "cpu") == page_key(tmp_path, base, "cpu")
    first = page_key(tmp_path, base, "cpu")[0]
    assert page_key(tmp_path, [_region("x = 2\n")], "cpu")[0] != first
    assert page_key(tmp_path, base, "cuda")[0] != first
    reads = [_region("# reads: data.txt\nx = 1\n")]
    with_data = page_key(tmp_path, reads, "cpu")[0]
    (tmp_path / "data.txt").write_text("2")
    assert page_key(tmp_path, reads, "cpu")[0] != with_data


def test_key_follows_project_imports_statically(tmp_path):
    pkg = tmp_path / "lib"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .inner import f\n")
    (pkg / "inner.py").write_text("import json\ndef f():\n    import numpy\n")
    (pkg / "unused.py").write_text("")
    files, packages = key.dependencies(tmp_path, [_region("from lib import f\n")])
    assert sorted(files) == ["lib/__init__.py", "lib/inner.py"]
    assert list(packages) == ["numpy"]  # json is stdlib; numpy found inside a function
    before = page_key(tmp_path, [_region("from lib import f\n")], "cpu")[0]
    (pkg / "unused.py").write_text("x = 1\n")
    assert page_key(tmp_path, [_region("from lib import f\n")], "cpu")[0] == before
    (pkg / "inner.py").write_text("def f():\n    return 2\n")
    assert page_key(tmp_path, [_region("from lib import f\n")], "cpu")[0] != before


def test_missing_data_file_is_a_usage_error(tmp_path):
    with pytest.raises(Exception, match="declares '# reads: nope.csv'"):
        page_key(tmp_path, [_region("# reads: nope.csv\n")], "cpu")


def _fake_distribution(root: Path, version: str) -> Path:
    site = root / "fake-site"
    (site / "fakepkg").mkdir(parents=True, exist_ok=True)
    (site / "fakepkg" / "__init__.py").write_text("VALUE = 1\n")
    for old in site.glob("fakepkg-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"fakepkg-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakepkg\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakepkg\n")
    return site


def _four_pages(site: FixtureSite) -> dict:
    site.write("snippets/__init__.py", "")
    site.write("snippets/helper.py", "K = 1\n")
    site.write("data/values.txt", "7\n")
    bodies = {
        "helper": "from snippets.helper import K\nprint(K)",
        "data": "# reads: data/values.txt\nprint(open('../../../data/values.txt').read() if False else 'd')",
        "package": "import fakepkg\nprint(fakepkg.VALUE)",
        "plain": "print('plain')",
    }
    for name, body in bodies.items():
        include = f'--8<-- "snippets/page_{name}.py:r"'
        site.write(f"docs/{name}.md", f"# {name}\n\nText.\n\n```python\n{include}\n```\n")
        site.write(f"snippets/page_{name}.py", f"# --8<-- [start:r]\n{body}\n# --8<-- [end:r]\n")
    return bodies


def _ran(result) -> set[str]:
    """Pages a successful build ran (a failed build fails the test, not silently "nothing")."""
    assert result.code == 0, result.stderr
    return pages_ran(result.stdout)


def test_only_affected_pages_rerun(site, tmp_path):
    _four_pages(site)
    env = {"PYTHONPATH": str(_fake_distribution(tmp_path, "1.0"))}
    first = site.build("--no-site", env=env)
    assert _ran(first) == {"helper.md", "data.md", "package.md", "plain.md"}
    assert _ran(site.build("--no-site", env=env)) == set()

    site.write("docs/plain.md",
               "# plain\n\nOther words.\n\n```python\n--8<-- \"snippets/page_plain.py:r\"\n```\n")
    assert _ran(site.build("--no-site", env=env)) == set()  # prose only

    site.write("snippets/helper.py", "K = 2\n")
    assert _ran(site.build("--no-site", env=env)) == {"helper.md"}

    site.write("data/values.txt", "8\n")
    assert _ran(site.build("--no-site", env=env)) == {"data.md"}

    _fake_distribution(tmp_path, "2.0")
    assert _ran(site.build("--no-site", env=env)) == {"package.md"}

    site.write("snippets/page_plain.py", "# --8<-- [start:r]\nprint('plain!')\n# --8<-- [end:r]\n")
    assert _ran(site.build("--no-site", env=env)) == {"plain.md"}

    assert _ran(site.build("--no-site", "--only", "plain.md", "--force", env=env)) == {"plain.md"}
    assert _ran(site.build("--no-site", "--force", env=env)) == {
        "helper.md", "data.md", "package.md", "plain.md"}


def test_failed_page_is_not_cached(site):
    site.write("docs/index.md", '```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nraise ValueError('x')\n# --8<-- [end:r]\n")
    assert site.build("--no-site").code == 1
    again = site.build("--no-site")
    assert again.code == 1 and "running index.md" in again.stdout  # ran again, not cached


def test_second_build_never_calls_the_runner(site, monkeypatch):
    site.write("docs/index.md", '```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint(1)\n# --8<-- [end:r]\n")
    monkeypatch.setenv("D2L_DEVICE", "cpu")
    project = find_project(site.root / "mkdocs.yml")
    engine.build(project, BuildOptions(), None)

    def refuse(*args, **kwargs):
        raise AssertionError("the runner was called on a warm build")

    monkeypatch.setattr(jobs, "run_page", refuse)
    summary = engine.build(project, BuildOptions(), site.root / "site")
    assert summary.ran == [] and summary.cached == ["index.md"]


def test_warm_build_imports_no_torch(site):
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nimport torch\nprint(torch.ones(1))\n"
                                "# --8<-- [end:r]\n")
    assert site.build().code == 0
    probe = textwrap.dedent("""\
        import sys
        from d2l_compiler.__main__ import main
        code = main(["build"])
        print(code, "torch" in sys.modules)
        """)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=site.root, capture_output=True,
                          text=True, env={**__import__("os").environ, "D2L_DEVICE": "auto"})
    assert proc.stdout.strip().splitlines()[-1] == "0 False", proc.stderr


def test_check_reports_stale_pages_and_why(site, tmp_path):
    _four_pages(site)
    env = {"PYTHONPATH": str(_fake_distribution(tmp_path, "1.0"))}
    assert site.build("--no-site", env=env).code == 0
    fresh = site.run("check", env=env)
    assert fresh.code == 0 and fresh.stdout.count("fresh ") == 4
    site.write("snippets/helper.py", "K = 3\n")
    _fake_distribution(tmp_path, "1.1")
    stale = site.run("check", env=env)
    assert stale.code == 1
    assert "stale  helper.md: module snippets/helper.py changed" in stale.stdout
    assert "stale  package.md: package fakepkg==1.0 -> fakepkg==1.1" in stale.stdout
    assert "fresh  plain.md" in stale.stdout
    assert "2 page(s) have stale results" in stale.stderr


def test_check_without_record_is_a_usage_error(site):
    site.write("docs/index.md", "# nothing\n")
    result = site.run("check")
    assert result.code == 2 and "no build record" in result.stderr


FAKE_TORCH = """\
import os, sys
with open(os.environ["TORCH_IMPORTS"], "a") as log:
    log.write(f"{os.getpid()} {' '.join(sys.argv)}\\n")
__version__ = "0.0-fake"
class cuda:
    @staticmethod
    def is_available():
        return False
"""


def test_warm_build_on_a_machine_with_a_gpu_driver_never_imports_torch(site, tmp_path):
    """The device probe runs once, in a subprocess; its answer is cached with the facts it
    depends on, so a warm build imports torch nowhere (engine, probe or page)."""
    fake = tmp_path / "fake-torch"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text(FAKE_TORCH)
    driver, imports = tmp_path / "nvidia-version", tmp_path / "imports"
    driver.write_text("NVRM version: fake 999.0\n")
    imports.write_text("")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint('hi')\n# --8<-- [end:r]\n")
    env = {"D2L_DEVICE": "auto", "D2L_NVIDIA_DRIVER_FILE": str(driver),
           "PYTHONPATH": str(fake), "TORCH_IMPORTS": str(imports)}
    cold = site.build(env=env)
    assert cold.code == 0, cold.stderr
    probes = imports.read_text().splitlines()
    assert len(probes) == 1 and " -c" in probes[0]  # the one probe (the page does not import it)
    warm = site.build(env=env)
    assert warm.code == 0 and "0 run, 1 cached" in warm.stdout
    assert imports.read_text().splitlines() == probes  # nothing imported torch again
    driver.write_text("NVRM version: fake 1000.0\n")  # a new driver: probed again
    assert site.build(env=env).code == 0 and len(imports.read_text().splitlines()) == 2


_TWO_REGIONS = ("# --8<-- [start:a]\nvalue = 6 * 7\nprint(value)\n# --8<-- [end:a]\n"
                "# --8<-- [start:b]\nprint(value + {add})\n# --8<-- [end:b]\n")
_TWO_FENCES = ('# P\n\n```python\n--8<-- "snippets/a.py:a"\n```\n\n'
               '```python\n--8<-- "snippets/a.py:b"\n```\n')


def test_a_publishing_build_runs_whole_any_page_reused_region_by_region(site):
    """Counted exactly: an edit to the second region runs it alone (the first is reused);
    then ``--publish`` runs that page whole, once, and a second ``--publish`` runs nothing."""
    site.write("snippets/a.py", _TWO_REGIONS.format(add=1))
    site.write("docs/index.md", _TWO_FENCES)
    assert "regions: 2 run, 0 cached" in site.build("--no-site").stdout
    site.write("snippets/a.py", _TWO_REGIONS.format(add=2))
    partial = site.build("--no-site")
    assert "regions: 1 run, 1 cached" in partial.stdout, partial.stdout
    published = site.build("--no-site", "--publish")
    assert "regions: 2 run, 0 cached" in published.stdout, published.stdout
    again = site.build("--no-site", "--publish")
    assert "pages: 0 run, 1 cached" in again.stdout and "regions: 0 run, 2 cached" in again.stdout


def test_a_failing_page_does_not_hide_the_pages_after_it(site):
    """Pages are summed whatever failed before them: the report counts every page."""
    site.write("snippets/a.py", "# --8<-- [start:bad]\nraise ValueError('no')\n# --8<-- [end:bad]\n"
                                "# --8<-- [start:ok]\nprint('fine')\n# --8<-- [end:ok]\n")
    site.write("docs/a.md", '# A\n\n```python\n--8<-- "snippets/a.py:bad"\n```\n')
    site.write("docs/b.md", '# B\n\n```python\n--8<-- "snippets/a.py:ok"\n```\n')
    site.write("docs/index.md", "# Home\n")
    result = site.build("--no-site")
    assert result.code == 1
    assert "pages: 1 run, 0 cached, 1 failed" in result.stderr, result.stderr
