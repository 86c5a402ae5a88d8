"""The live preview for real: ``python -m d2l_compiler serve`` (mkdocs serve plus the engine's
watch loop) on a fixture site, driven over HTTP with bounded waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import FixtureSite  # noqa: F401 - the `site` fixture

SLOW_REGION = "import time\ntime.sleep(1.5)\nprint('{value}')\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except OSError:
        return ""


def _wait_until(url: str, holds, limit: float = 60.0) -> str:
    deadline = time.monotonic() + limit
    page = ""
    while time.monotonic() < deadline:
        page = _fetch(url)
        if holds(page):
            return page
        time.sleep(0.1)
    raise AssertionError(f"{url} never showed what was expected; last page:\n{page[-3000:]}")


def _shown(text: str, page: str) -> bool:
    """Whether ``text`` is an output block on the page (not merely in the code shown)."""
    return f"<code>{text}\n" in page


def _snippet(site, value: str) -> None:
    site.write("snippets/a.py", "# --8<-- [start:a]\n" + SLOW_REGION.format(value=value)
               + "# --8<-- [end:a]\n# --8<-- [start:b]\nprint('b' * 3)\n# --8<-- [end:b]\n")


def test_an_edit_shows_as_outdated_then_reloads_with_the_new_output(site):
    _snippet(site, "first-output")
    site.write("docs/index.md", """\
        # 页面

        ```python
        --8<-- "snippets/a.py:a"
        ```

        ```python
        --8<-- "snippets/a.py:b"
        ```
        """)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen(
        [sys.executable, "-m", "d2l_compiler", "serve", "--dev-addr", f"127.0.0.1:{port}"],
        cwd=site.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, start_new_session=True)
    try:
        _wait_until(url, lambda page: _shown("first-output", page) and _shown("bbb", page))
        _snippet(site, "second-output")
        # while the edited region runs again, its old output is shown, marked as outdated
        outdated = _wait_until(url, lambda page: "d2l-outdated" in page)
        assert _shown("first-output", outdated)
        fresh = _wait_until(url, lambda page: _shown("second-output", page))
        assert "d2l-outdated" not in fresh and "first-output" not in fresh and "bbb" in fresh
        runs = site.record()["provenance"]["summary"]["regions_ran"]
        assert runs == ["index.md: snippets/a.py:a"]  # b was not run again
        # a failure shows on the page (and the terminal), the last good output under it
        site.write("snippets/a.py", "# --8<-- [start:a]\nraise ZeroDivisionError('<b id=inj>x</b>')"
                   "\n# --8<-- [end:a]\n# --8<-- [start:b]\nprint('b' * 3)\n# --8<-- [end:b]\n")
        failed = _wait_until(url, lambda page: "d2l-failed" in page and "ZeroDivisionError" in page)
        assert _shown("second-output", failed)
        assert "<b id=inj>" not in failed and "&lt;b id=inj&gt;" in failed  # text, not markup
        _snippet(site, "third-output")
        healed = _wait_until(url, lambda page: _shown("third-output", page)
                             and "d2l-failed" not in page)
        assert "d2l-outdated" not in healed
    finally:
        os.killpg(server.pid, signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert "ZeroDivisionError" in output  # the terminal said so too
    assert not (Path(site.root) / "site").exists()  # the preview never publishes a site


def test_a_bad_address_is_one_line_before_anything_runs(site):
    from conftest import run_cli

    site.write("snippets/a.py", "# --8<-- [start:a]\nopen('ran', 'w')\n# --8<-- [end:a]\n")
    site.write("docs/index.md", '# p\n\n```python\n--8<-- "snippets/a.py:a"\n```\n')
    for address in ("nonsense", "127.0.0.1:99999", ":8000", "host:port"):
        result = run_cli("serve", "--dev-addr", address, cwd=site.root)
        assert result.code == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "is not HOST:PORT" in result.stderr
    assert not (site.root / ".d2l").exists()  # nothing ran


def test_the_watcher_sees_what_may_change_a_page_and_nothing_of_its_own(tmp_path):
    from d2l_compiler.engine.serve import SourceFilter
    from d2l_compiler.engine.sources.project import find_project

    (tmp_path / "docs").mkdir()
    (tmp_path / "mkdocs.yml").write_text("site_name: x\nplugins:\n  - d2l:\n      state_dir: state\n")
    project = find_project(tmp_path / "mkdocs.yml")
    sources = SourceFilter(project)
    root = sources.root
    outside = tmp_path.parent / "shared-data"
    outside.mkdir(exist_ok=True)
    sources.data = frozenset({root / ".hidden" / "declared.csv", root / "data" / "t.csv",
                              outside.resolve() / "big.csv"})
    seen = {rel: sources(None, str(root / rel)) for rel in [
        "docs/index.md", "snippets/a.py", "lib/deep/b.py", "mkdocs.yml", "data/t.csv",
        ".hidden/declared.csv", "docs/site/deploy.md", "snippets/site/x.py",
        "state/record.json", "state/logs/x.py", "docs/generated/p.md",
        ".git/HEAD.py", ".nox/x.py", "site/index.md", "snippets/__pycache__/a.py",
        "data/other.csv", "notes.txt"]}
    assert [rel for rel, shown in seen.items() if shown] == [
        "docs/index.md", "snippets/a.py", "lib/deep/b.py", "mkdocs.yml", "data/t.csv",
        ".hidden/declared.csv", "docs/site/deploy.md", "snippets/site/x.py"]
    assert not sources(None, "/elsewhere/page.md")
    assert sources(None, str(outside.resolve() / "big.csv"))  # declared, outside the project
    assert sources.folders() == (root, outside.resolve())  # so its folder is watched too


def _serving(site, command: list[str], port: int) -> subprocess.Popen:
    return subprocess.Popen(command + ["--dev-addr", f"127.0.0.1:{port}"], cwd=site.root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
                            start_new_session=True)


def _stop(server: subprocess.Popen) -> str:
    os.killpg(server.pid, signal.SIGINT)
    return server.communicate(timeout=30)[0]


def test_a_misspelt_region_shows_on_the_page_and_the_preview_keeps_answering(site):
    """A page naming a region that does not exist (a typo) shows the error in the preview, as
    a failing region does; the preview answers instead of hanging inside pymdownx.snippets,
    and heals when the name is fixed."""
    site.write("snippets/a.py", "# --8<-- [start:a]\nprint('right-' + 'name')\n# --8<-- [end:a]\n")
    site.write("docs/index.md", '# 页面\n\n```python\n--8<-- "snippets/a.py:a"\n```\n')
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = _serving(site, [sys.executable, "-m", "d2l_compiler", "serve"], port)
    try:
        _wait_until(url, lambda page: _shown("right-name", page))
        site.write("docs/index.md", '# 页面\n\n```python\n--8<-- "snippets/a.py:typo"\n```\n')
        failed = _wait_until(url, lambda page: "d2l-failed" in page and "typo" in page)
        assert "right-name" not in failed or "d2l-failed" in failed
        site.write("docs/index.md", '# 页面\n\n```python\n--8<-- "snippets/a.py:a"\n```\n')
        _wait_until(url, lambda page: _shown("right-name", page) and "d2l-failed" not in page)
    finally:
        _stop(server)


def test_plain_mkdocs_serve_says_a_build_is_needed_not_that_the_code_is_running(site):
    """Under a plain ``mkdocs serve`` nothing runs an edited region again: the page says a
    build is needed (under ``python -m d2l_compiler serve`` it says the code is running)."""
    site.write("snippets/a.py", "# --8<-- [start:a]\nprint('old-' + 'output')\n# --8<-- [end:a]\n")
    site.write("docs/index.md", '# 页面\n\n```python\n--8<-- "snippets/a.py:a"\n```\n')
    assert site.build("--no-site").code == 0
    site.write("snippets/a.py", "# --8<-- [start:a]\nprint('new-' + 'output')\n# --8<-- [end:a]\n")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = _serving(site, [sys.executable, "-m", "mkdocs", "serve"], port)
    try:
        page = _wait_until(url, lambda page: "d2l-outdated" in page)
        assert "python -m d2l_compiler build" in page and "正在重新运行" not in page
        assert _shown("old-output", page)
    finally:
        _stop(server)
