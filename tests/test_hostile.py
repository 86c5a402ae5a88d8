"""Never stale, never unsafe: the engine under careless and hostile input, on fixture sites.

Each test is one case of a class (see the module's sections); where a class has several
members that differ in mechanism, they are parametrised. Assertions are on behaviour: the
tree is unchanged, the process is gone, the page shows the right output, the HTML has no live
markup from run data, not only on the exit status.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FixtureSite
from d2l_compiler.engine.formats import RECORD_FORMAT as FORMAT

ENV = {**os.environ, "D2L_DEVICE": "cpu", "NO_MKDOCS_2_WARNING": "1"}
LIVE = re.compile(r"<(img|b|i|script|a|svg)\b[^>]*\b(id=inj|onerror|href=.javascript)", re.I)


def _one_region(site: FixtureSite, body: str, name: str = "r", page: str = "index.md",
                prose: str = "") -> None:
    site.write(f"docs/{page}", f'# T\n\n```python\n--8<-- "snippets/s.py:{name}"\n```\n\n{prose}\n')
    site.write("snippets/s.py", f"# --8<-- [start:{name}]\n{body}\n# --8<-- [end:{name}]\n")


def _tree(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() or p.is_symlink()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(file.read_bytes() if file.is_file() else b"link")
    return digest.hexdigest()


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _all_html(site: FixtureSite) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in (site.root / "site").rglob("*.html"))


# 1. Destructive: the site directory ------------------------------------------------------


@pytest.mark.parametrize("target", [".", "docs", "snippets", ".d2l", "..", "docs/out", "ABS_ROOT",
                                    "../sibling", "snippets/s.py"])
def test_site_dir_that_would_lose_files_is_refused_and_nothing_is_touched(site, target):
    _one_region(site, "print('hi')")
    sibling = site.root.parent / "sibling"
    sibling.mkdir(exist_ok=True)
    (sibling / "notes.txt").write_text("mine")
    before, sibling_before = _tree(site.root), _tree(sibling)
    target = str(site.root) if target == "ABS_ROOT" else target
    result = site.build("--site-dir", target)
    assert result.code == 2
    assert _one_line(result).startswith("error: --site-dir ")
    assert _tree(site.root) == before and _tree(sibling) == sibling_before
    assert not (site.root / ".d2l").exists()  # nothing ran


def test_a_built_site_is_replaced_and_user_folders_beside_it_survive(site):
    _one_region(site, "print('one')")
    keep = site.root / "site.old"
    keep.mkdir()
    (keep / "mine.txt").write_text("user data")
    assert site.build().code == 0
    assert (site.root / "site" / ".d2l-site").is_file()
    _one_region(site, "print('two')")
    assert site.build().code == 0
    assert "two" in site.html() and (keep / "mine.txt").read_text() == "user data"
    assert not [p for p in site.root.iterdir() if p.name.startswith((".site", ".site.old"))]


def test_empty_directory_is_a_valid_site_dir(site, tmp_path):
    _one_region(site, "print('hi')")
    out = tmp_path / "out"
    out.mkdir()
    assert site.build("--site-dir", str(out)).code == 0
    assert (out / "index.html").is_file()


# 2. Stale output served as fresh ---------------------------------------------------------


ORDER_SNIPPET = ("# --8<-- [start:setx]\nprint('setting x')\nx = 'set'\n# --8<-- [end:setx]\n"
                 "# --8<-- [start:show]\nprint('x is', x)\n# --8<-- [end:show]\n")


def _page(*targets: str) -> str:
    return "# P\n\n" + "".join(f'```python\n--8<-- "{t}"\n```\n\n' for t in targets)


def test_swapping_includes_changes_the_key_and_reruns(site):
    site.write("snippets/s.py", ORDER_SNIPPET)
    site.write("docs/index.md", _page("snippets/s.py:setx", "snippets/s.py:show"))
    assert site.build("--no-site").code == 0
    site.write("docs/index.md", _page("snippets/s.py:show", "snippets/s.py:setx"))
    checked = site.run("check")
    assert checked.code == 1 and "another order" in checked.stdout
    result = site.build()
    assert result.code == 1 and "NameError" in result.stderr and "docs/index.md:4" in result.stderr


def test_a_region_included_twice_shows_each_runs_output(site):
    site.write("snippets/s.py", "# --8<-- [start:count]\nn = globals().get('n', 0) + 1\n"
                                "print('run', n)\n# --8<-- [end:count]\n")
    site.write("docs/index.md", _page("snippets/s.py:count", "snippets/s.py:count"))
    assert site.build().code == 0, site.build().stderr
    html = site.html()
    assert html.index("run 1") < html.index("run 2")
    site.write("docs/index.md", _page("snippets/s.py:count"))
    assert site.build().code == 0
    assert "run 1" in site.html() and "run 2" not in site.html()  # the key saw the count change


def test_same_section_name_in_two_files_is_an_ambiguous_token(site):
    site.write("snippets/a.py", "# --8<-- [start:r]\nv = 'from a'\n# --8<-- [end:r]\n")
    site.write("snippets/b.py", "# --8<-- [start:r]\nv = 'from b'\n# --8<-- [end:r]\n")
    site.write("docs/index.md", _page("snippets/a.py:r", "snippets/b.py:r") + "{{ d2l:r.v }}\n")
    result = site.build()
    assert result.code == 1
    assert "ambiguous" in result.stderr and "snippets/a.py:r" in result.stderr \
        and "snippets/b.py:r" in result.stderr and "docs/index.md:11" in result.stderr


@pytest.mark.parametrize(("page", "line", "phrase"), [
    ('# P\n\n--8<-- "snippets/s.py:r"\n', 3, "outside a code fence"),
    ('# P\n\n<!--\n```python\n--8<-- "snippets/s.py:r"\n```\n-->\n', 5, "inside an HTML comment"),
    ('# P\n\n<!-- --8<-- "snippets/s.py:r" -->\n\n', None, None),  # not an include: renders
    ('# P\n\n```python\n--8<-- "snippets/s.py:r"\n\nmore {{ d2l:r.v }}\n', 3, "never closed"),
    ('# P\n\n```python\n--8<--\nsnippets/s.py\n--8<--\n```\n', 4, "one-line form"),
])
def test_every_include_renders_or_fails_naming_the_line(site, page, line, phrase, tmp_path):
    marker = tmp_path / "ran"
    site.write("snippets/s.py", f"# --8<-- [start:r]\nopen({str(marker)!r}, 'w')\nv = 1\n"
                                "print('shown')\n# --8<-- [end:r]\n")
    site.write("docs/index.md", page)
    result = site.build()
    if phrase is None:
        assert result.code == 0, result.stderr
        return
    assert result.code == 2 and f"docs/index.md:{line}" in _one_line(result) and phrase in result.stderr
    assert not marker.exists()  # refused before anything ran


def test_two_includes_in_one_fence_and_a_longer_closing_fence_show_every_output(site):
    site.write("snippets/s.py", "# --8<-- [start:a]\nprint('out-a')\n# --8<-- [end:a]\n"
                                "# --8<-- [start:b]\nprint('out-b')\nv = 7\n# --8<-- [end:b]\n")
    site.write("docs/index.md", '# P\n\n```python\n--8<-- "snippets/s.py:a"\n'
                                '--8<-- "snippets/s.py:b"\n`````\n\nvalue {{ d2l:b.v }}\n')
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert "out-a" in html and "out-b" in html and "value 7" in html and "d2l:" not in html


def _edit_record(site: FixtureSite, edit) -> None:
    path = site.root / ".d2l" / "record.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    edit(record["pages"]["index.md"])
    path.write_text(json.dumps(record), encoding="utf-8")


def _bare_mkdocs(site: FixtureSite) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
                          cwd=site.root, capture_output=True, text=True, env=ENV)


@pytest.mark.parametrize("edit", [
    lambda e: e["regions"][0]["run"].update(stdout="forged\n"),
    lambda e: e["regions"][0]["run"]["values"].update(v=41),
    lambda e: e["provenance"].update(device="cuda"),
])
def test_a_record_edited_by_hand_is_refused_by_check_and_the_site_build(site, edit):
    _one_region(site, "v = 42\nprint('real')", prose="v is {{ d2l:r.v }}")
    assert site.build().code == 0
    _edit_record(site, edit)
    checked = site.run("check")
    assert checked.code == 1 and "digest" in checked.stdout
    bare = _bare_mkdocs(site)
    assert bare.returncode != 0 and "digest" in bare.stderr


def test_a_resealed_edit_is_still_caught_by_check_against_the_store(site):
    from conftest import seal

    _one_region(site, "print('real')")
    assert site.build("--no-site").code == 0
    path = site.root / ".d2l" / "record.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["pages"]["index.md"]["regions"][0]["run"]["stdout"] = "forged\n"
    record["pages"]["index.md"] = seal(record["pages"]["index.md"])
    path.write_text(json.dumps(record), encoding="utf-8")
    checked = site.run("check")
    assert checked.code == 1 and "differ from the stored results" in checked.stdout


def test_config_without_the_renderer_is_refused_before_running(site, tmp_path):
    marker = tmp_path / "ran"
    _one_region(site, f"open({str(marker)!r}, 'w')")
    config = site.root / "mkdocs.yml"
    config.write_text(re.sub(r"plugins:\n  - d2l:\n      labels: zh\n", "", config.read_text()))
    assert "d2l" not in config.read_text()
    result = site.build()
    assert result.code == 2 and "does not load the d2l renderer" in _one_line(result)
    assert not marker.exists() and not (site.root / "site").exists()


# 3. Injection into the published site ------------------------------------------------------


HOSTILE = "<img src=x onerror=alert(1)> <b id=inj>b</b> [l](javascript:alert(1)) *em* `c` {: #x }"


def test_run_data_reaches_no_page_as_markup(site):
    site.write("docs/report.md", "# R\n\n{{ d2l:report }}\n")
    body = f"""import os, sys, types, warnings
warnings.warn({HOSTILE!r})
warnings.warn("expected <class 'int'>, got <lambda>")
text = {HOSTILE!r}
class Samples:
    def __init__(self, description, median):
        self.data = {{"description": description, "median": median, "q1": median - 0.1,
                     "q3": median + 0.1}}
    def to_record(self):
        return self.data
samples_a = Samples({HOSTILE!r}, 1.0)
samples_b = Samples("<i id=inj>b</i>", 2.0)
os.environ["D2L_DEVICE"] = "<b id=inj>dev</b>"
sys.modules["torch"] = types.SimpleNamespace(__version__="<b id=inj>t</b>",
                                             get_num_threads=lambda: "<i id=inj>")
print({HOSTILE!r})"""
    _one_region(site, body, prose="值：{{ d2l:r.text }}\n\n{{ d2l:compare r.samples_a r.samples_b }}\n\n"
                                  "{{ d2l:stamp }}")
    result = site.build()
    assert result.code == 0, result.stderr
    pages_html = _all_html(site)
    assert not LIVE.search(pages_html), LIVE.search(pages_html)
    report = html.unescape(site.html("report"))
    assert "<img src=x onerror=alert(1)>" in report  # shown as text
    assert "expected <class 'int'>, got <lambda>" in report
    served = (site.root / "site" / "d2l-record.json").read_text(encoding="utf-8")
    assert "<" not in served and json.loads(served)["pages"]["index.md"]["regions"][0]["run"]["values"][
        "text"] == HOSTILE


def test_output_is_never_an_instruction_to_pymdownx_snippets(site):
    _one_region(site, "print('--8<-- \"mkdocs.yml\"')\nprint(';--8<-- \"x\"')\n"
                      "print('a --8<' + '-- [start:q] b')")
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert "site_name" not in html  # mkdocs.yml was not pulled in
    assert '--8&lt;-- "mkdocs.yml"' in html.replace("&quot;", '"')
    assert ';--8&lt;-- "x"' in html.replace("&quot;", '"') and "a --8&lt;-- [start:q] b" in html


def test_nul_and_ansi_in_output_and_errors_are_shown_as_text(site):
    _one_region(site, "print('nul:\\x00 red:\\x1b[31mR\\x1b[0m bell:\\x07')")
    assert site.build().code == 0
    html = site.html()
    assert "\x00" not in html and "\x1b" not in html and "nul:␀ red:R bell:␇" in html
    _one_region(site, "raise ValueError('bad\\x1b[2J\\x00')")
    failed = site.build()
    assert failed.code == 1 and "\x1b" not in failed.stderr and "\x00" not in failed.stderr
    assert "ValueError: bad␀" in failed.stderr


@pytest.mark.parametrize("target", ["snippets/../../outside/evil.py:r", "ABS", "snippets/link.py:r"])
def test_includes_cannot_reach_outside_the_project(site, target, tmp_path):
    outside = site.root.parent / "outside"
    outside.mkdir(exist_ok=True)
    marker = tmp_path / "pwned"
    (outside / "evil.py").write_text(f"# --8<-- [start:r]\nopen({str(marker)!r}, 'w')\n"
                                     "# --8<-- [end:r]\n")
    (site.root / "snippets" / "link.py").symlink_to(outside / "evil.py")
    target = f"{outside / 'evil.py'}:r" if target == "ABS" else target
    site.write("docs/index.md", _page(target))
    result = site.build()
    assert result.code == 2 and "docs/index.md:4" in _one_line(result)
    assert not marker.exists()


# 4. Resources --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    "import os\nwhile True:\n    os.write(1, b'x' * 65536)",
    "import os\nos.write(2, b'y' * 200_000_000)",  # one huge write, to stderr
    "import subprocess\nsubprocess.run(['yes'])",  # a grandchild floods
])
def test_descriptor_level_flood_is_capped(site, body):
    _one_region(site, body)
    started = time.monotonic()
    result = site.build("--timeout", "120")
    assert result.code == 1 and "failed: output-limit" in result.stderr
    assert time.monotonic() - started < 60
    assert len(result.stderr) < 20_000
    logs = list((site.root / ".d2l" / "logs").iterdir())
    assert logs and all(log.stat().st_size < 2 * 2**20 for log in logs)


def test_term_handler_that_floods_during_the_grace_period_is_bounded(site):
    _one_region(site, "import os, signal, time\n"
                      "signal.signal(signal.SIGTERM, lambda *a: [os.write(1, b'z' * 65536) "
                      "for _ in iter(int, 1)])\ntime.sleep(600)")
    result = site.build("--timeout", "1")
    assert result.code == 1 and "failed: timeout" in result.stderr
    (log,) = (site.root / ".d2l" / "logs").iterdir()
    assert log.stat().st_size < 2 * 2**20


def test_bound_values_are_limited_and_the_record_says_what_was_dropped(site):
    _one_region(site, "for _i in range(50_000):\n    globals()[f'v{_i}'] = 'x' * 1900",
                prose="{{ d2l:r.v49999 }}")
    result = site.build()
    assert result.code == 1 and "were not kept (more than 200 values" in result.stderr
    site.write("docs/index.md", _page("snippets/s.py:r"))
    assert site.build("--no-site").code == 0
    region = site.record()["pages"]["index.md"]["regions"][0]["run"]
    assert len(region["values"]) <= 200
    dropped = sum(d["count"] for d in region["values_dropped"].values())
    assert dropped + len(region["values"]) == 50_000
    assert (site.root / ".d2l" / "record.json").stat().st_size < 3 * 2**20


def test_a_broken_to_record_is_dropped_not_a_crash(site):
    _one_region(site, "class P:\n    def to_record(self, eager):\n        return {}\n"
                      "p = P()\nprint('kept')")
    assert site.build("--no-site").code == 0
    region = site.record()["pages"]["index.md"]["regions"][0]["run"]
    assert region["stdout"] == "kept\n" and "p" in str(region["values_dropped"])


@pytest.mark.parametrize("fmt", ["100000000d", ">99999999", ".99999999f", "0100000000"])
def test_huge_format_specs_are_refused(site, fmt):
    _one_region(site, "v = 1", prose=f"{{{{ d2l:r.v | {fmt} }}}}")
    result = site.build()
    assert result.code == 1 and "docs/index.md:7" in result.stderr
    assert "asks for more than" in result.stderr


def test_pages_with_similar_names_get_their_own_logs(site):
    for page in ("a/b.md", "a__b.md"):
        site.write(f"docs/{page}", '# P\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nraise ValueError('x')\n# --8<-- [end:r]\n")
    assert site.build().code == 1
    assert len(list((site.root / ".d2l" / "logs").iterdir())) == 2


# 5. Processes and signals --------------------------------------------------------------------


def test_a_double_forked_daemon_does_not_outlive_the_build(site, tmp_path):
    pid_file = tmp_path / "daemon"
    _one_region(site, f"""import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(600)
    os._exit(0)
time.sleep(0.5)
print('parent done')""")
    result = site.build("--no-site")
    assert result.code == 0, result.stderr
    assert not _alive(int(pid_file.read_text()))


def _start_build(site: FixtureSite, tmp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "d2l_compiler", "build"], cwd=site.root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ENV, "TMPDIR": str(tmp)},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() or not path.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize(("signals", "code", "word"), [
    ([signal.SIGTERM], 143, "terminated"),
    ([signal.SIGINT, signal.SIGINT], 130, "interrupted"),  # the second arrives during cleanup
])
def test_signals_to_the_engine_clean_up_everything(site, tmp_path, signals, code, word):
    pids, tmp = tmp_path / "pids", tmp_path / "tmp"
    tmp.mkdir()
    _one_region(site, f"""import os, signal, subprocess, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["python3", "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                          "signal.SIG_IGN); time.sleep(600)"])
open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(600)""")
    proc = _start_build(site, tmp)
    _wait_for(pids)
    time.sleep(0.3)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.3)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code and word in err
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), pid
    assert not list(tmp.iterdir())  # no d2l-page-* directory left
    assert not (site.root / "site").exists()


def test_output_of_an_earlier_regions_thread_is_kept_apart(site):
    site.write("snippets/s.py", """# --8<-- [start:start]
import threading, time
stop = threading.Event()
def chatter():
    while not stop.is_set():
        print('from thread')
        time.sleep(0.01)
threading.Thread(target=chatter, daemon=True).start()
time.sleep(0.05)
# --8<-- [end:start]
# --8<-- [start:later]
time.sleep(0.1)
print('own line')
stop.set()
# --8<-- [end:later]
""")
    site.write("docs/index.md", _page("snippets/s.py:start", "snippets/s.py:later"))
    assert site.build("--no-site").code == 0
    start, later = (r["run"] for r in site.record()["pages"]["index.md"]["regions"])
    assert "from thread" in start["stdout"]
    assert later["stdout"] == "own line\n" and "from thread" in later["stray"]


@pytest.mark.parametrize(("write", "said"), [
    # refused as it happens (the page process's audit hook: see run.project_guard)
    ("open({root!r} + '/docs/new.md', 'w').write('# new')", "does not write into the project"),
    ("open({root!r} + '/docs/index.md', 'a').write('\\nappended prose')",
     "does not write into the project"),
    # another process writes unseen by the hook: the snapshot of the project catches it
    ("import subprocess\nsubprocess.run(['sh', '-c', 'echo x >> {root}/docs/index.md'])",
     "files in the project changed while its code ran (docs/index.md)"),
])
def test_a_region_that_edits_the_sources_fails_the_build(site, write, said):
    _one_region(site, "print('v1')")
    assert site.build().code == 0
    published = _tree(site.root / "site")
    _one_region(site, write.format(root=str(site.root)))
    result = site.build()
    assert result.code == 1 and said in result.stderr
    assert _tree(site.root / "site") == published


# 6. Text and configuration -------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0c", "\x1c"])
def test_any_line_separator_in_output_values_and_warnings_is_kept(site, char):
    _one_region(site, f"import warnings\ntext = 'a{char}b'\nprint(text)\nwarnings.warn(text)",
                prose="value {{ d2l:r.text }}")
    result = site.build()
    assert result.code == 0, result.stderr
    region = site.record()["pages"]["index.md"]["regions"][0]["run"]
    assert region["stdout"] == f"a{char}b\n" and region["values"]["text"] == f"a{char}b"


def test_a_lone_surrogate_is_stored_and_shown(site):
    _one_region(site, "print('\\udcff')\ns = 'x\\ud800'")
    result = site.build()
    assert result.code == 0, result.stderr
    assert site.record()["pages"]["index.md"]["regions"][0]["run"]["stdout"] == "\\udcff\n"
    assert "\\udcff" in site.html()


@pytest.mark.parametrize(("setup", "phrase"), [
    (lambda root: (root / "mkdocs.yml").write_bytes(b"site_name: \xff\xfe\n"), "not UTF-8"),
    (lambda root: (root / "mkdocs.yml").write_text("site_name: x\ndocs_dir: 5\n"), "docs_dir"),
    (lambda root: (root / "mkdocs.yml").write_text("- a list\n"), "mapping"),
    (lambda root: (root / "docs" / "index.md").write_bytes(b"# \xff\n"), "not UTF-8"),
    (lambda root: _write_record(root, "[1, 2]"), "malformed build record"),
    (lambda root: _write_record(root, f'{{"format": {FORMAT}}}'), "malformed build record"),
    (lambda root: _write_record(root, f'{{"format": {FORMAT}, "provenance": {{}}, '
                                      '"pages": {"x": 1}}'), "malformed build record"),
    (lambda root: _write_record(root, "{not json"), "unreadable build record"),
])
def test_bad_configuration_and_records_are_one_line_exit_2(site, setup, phrase):
    _one_region(site, "print('x')")
    setup(site.root)
    for result in (site.build(), site.run("check")):
        assert result.code == 2 and phrase in _one_line(result)


def _write_record(root: Path, text: str) -> None:
    (root / ".d2l").mkdir(exist_ok=True)
    (root / ".d2l" / "record.json").write_text(text)


def test_an_old_format_record_is_ignored_by_the_build(site):
    _one_region(site, "print('x')")
    _write_record(site.root, '{"format": 1}')
    assert site.run("check").code == 2
    assert site.build().code == 0 and "x" in site.html()


@pytest.mark.parametrize("token", ["{{ d2l: }}", "{{ d2l:}}", "{{ d2l:r.missing }}"])
def test_empty_or_unknown_tokens_name_the_line(site, token):
    _one_region(site, "v = 1", prose=token)
    result = site.build()
    assert result.code == 1 and "docs/index.md:7" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "abc"])
def test_bad_timeouts_are_one_line_exit_2(site, value):
    _one_region(site, "print('x')")
    result = site.build("--timeout", value)
    assert result.code == 2 and _one_line(result).startswith("error:")


@pytest.mark.parametrize("limit", [1000, 2500, 4000, 8000])  # the region's, the store's, ...
def test_a_full_disk_is_one_line_and_the_site_is_unchanged(site, limit):
    _one_region(site, "print('v1')")
    assert site.build().code == 0
    published = _tree(site.root / "site")
    _one_region(site, "print('v2' * 600)")

    def small_files() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "d2l_compiler", "build"], cwd=site.root,
                          capture_output=True, text=True, preexec_fn=small_files,
                          env={**ENV, "PYTHONDONTWRITEBYTECODE": "1"})  # no truncated .pyc
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error:") and "File too large" in proc.stderr
    assert _tree(site.root / "site") == published
