"""The build engine on tiny fixture sites: real subprocesses, real MkDocs, nothing mocked."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

PAGE = """\
# Demo

```python
--8<-- "snippets/demo.py:hello"
```

The answer is {{ d2l:answer.answer }} and pi is {{ d2l:answer.pi | .2f }}.

```python
--8<-- "snippets/demo.py:answer"
```
"""

DEMO = """\
# --8<-- [start:hello]
print("hello <script>alert(1)</script>")
# --8<-- [end:hello]

# --8<-- [start:answer]
answer = 6 * 7
pi = 3.14159
print(answer)
# --8<-- [end:answer]
"""


def _tree_hash(path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode() + file.read_bytes())
    return digest.hexdigest()


def _demo_site(site):
    site.write("docs/index.md", PAGE)
    site.write("snippets/demo.py", DEMO)
    return site


def test_record_has_outputs_values_and_provenance(site):
    result = _demo_site(site).build()
    assert result.code == 0, result.stderr
    record = site.record()
    assert set(record["provenance"]) >= {"device", "git_commit", "date_utc", "python"}
    page = record["pages"]["index.md"]
    assert set(page["provenance"]) >= {"device", "python", "cpu", "platform"}
    hello, answer = page["regions"]
    assert hello["run"]["status"] == "ok"
    assert hello["run"]["stdout"] == "hello <script>alert(1)</script>\n"
    assert answer["run"]["values"] == {"answer": 42, "pi": 3.14159}
    assert answer["run"]["duration"] >= 0 and answer["line"] == 6 and answer["md_line"] == 10
    html = site.html()
    assert "The answer is 42 and pi is 3.14." in html
    assert "<script>alert(1)</script>" not in html  # outputs are escaped text, not markup
    assert "alert(1)" in html


def test_second_build_runs_nothing_and_prose_edit_runs_nothing(site):
    _demo_site(site).build()
    again = site.build()
    assert again.code == 0 and "pages: 0 run, 1 cached" in again.stdout
    site.write("docs/index.md", PAGE.replace("# Demo", "# Demo, reworded"))
    assert "pages: 0 run, 1 cached" in site.build().stdout
    site.write("snippets/demo.py", DEMO.replace("6 * 7", "7 * 6"))
    assert "pages: 1 run, 0 cached" in site.build().stdout


def test_imported_project_module_is_part_of_the_key(site):
    site.write("docs/index.md", '```python\n--8<-- "snippets/uses.py:r"\n```\n')
    site.write("snippets/uses.py",
               "# --8<-- [start:r]\nfrom snippets.helper import K\nprint(K)\n# --8<-- [end:r]\n")
    site.write("snippets/__init__.py", "")
    site.write("snippets/helper.py", "K = 1\n")
    assert site.build().code == 0
    assert "pages: 0 run" in site.build().stdout
    site.write("snippets/helper.py", "K = 2\n")
    rebuilt = site.build()
    assert "pages: 1 run" in rebuilt.stdout
    assert site.record()["pages"]["index.md"]["regions"][0]["run"]["stdout"] == "2\n"


def test_missing_region_names_the_page(site):
    site.write("docs/index.md", 'x\n\n```python\n--8<-- "snippets/demo.py:nope"\n```\n')
    site.write("snippets/demo.py", DEMO)
    result = site.build()
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0  # one line
    assert "docs/index.md:4" in result.stderr and "'nope'" in result.stderr


def test_raising_region_reports_page_and_snippet_line(site):
    site.write("docs/index.md", '```python\n--8<-- "snippets/bad.py:boom"\n```\n\n'
               '```python\n--8<-- "snippets/bad.py:later"\n```\n')
    site.write("snippets/bad.py", "# --8<-- [start:boom]\nx = 1\ny = x / 0\n# --8<-- [end:boom]\n"
               "# --8<-- [start:later]\nprint('never')\n# --8<-- [end:later]\n")
    result = site.build()
    assert result.code == 1
    first, second = result.stderr.splitlines()[:2]
    assert "docs/index.md:2" in first and "'boom'" in first
    assert "exception: ZeroDivisionError: division by zero" in first
    assert second.strip().startswith("at snippets/bad.py:3 · exit status 1")
    assert "not run: later" in result.stderr
    assert "full log:" in result.stderr
    assert not (site.root / ".d2l" / "record.json").exists()  # nothing partial is recorded


def test_hanging_region_is_killed_at_the_timeout(site):
    site.write("docs/index.md", '```python\n--8<-- "snippets/hang.py:hang"\n```\n')
    site.write("snippets/hang.py", "# --8<-- [start:hang]\nimport time\ntime.sleep(600)\n"
               "# --8<-- [end:hang]\n")
    result = site.build("--timeout", "2")
    assert result.code == 1
    assert "timeout after 2 s" in result.stderr and "'hang'" in result.stderr


def test_exit_inside_a_region_is_a_failure(site):
    site.write("docs/index.md", '```python\n--8<-- "snippets/quit.py:quit"\n```\n')
    site.write("snippets/quit.py", "# --8<-- [start:quit]\nimport sys\nsys.exit(0)\n"
               "# --8<-- [end:quit]\n")
    result = site.build()
    assert result.code == 1 and "failed: exit: SystemExit" in result.stderr


def test_cuda_without_gpu_is_one_line_exit_2(site):
    _demo_site(site)
    result = site.build(env={"D2L_DEVICE": "cuda"})
    probe = "import torch; print(torch.cuda.is_available())"
    has_gpu = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                             text=True).stdout.strip() == "True"
    if has_gpu:
        assert result.code == 0
        return
    assert result.code == 2
    stderr = result.stderr.strip()
    assert stderr.count("\n") == 0 and stderr.startswith("error: D2L_DEVICE=cuda but torch ")
    assert "(a CPU build): install a CUDA build" in stderr  # names the wheel and the way out
    assert not (site.root / ".d2l").exists()  # nothing ran


def test_bad_invocations_are_one_line(site, tmp_path):
    _demo_site(site)
    unknown = site.build("--only", "missing.md")
    assert unknown.code == 2 and unknown.stderr.startswith("error: --only missing.md")
    no_config = site.build("--config", str(tmp_path / "nowhere.yml"))
    assert no_config.code == 2 and "no MkDocs config" in no_config.stderr
    bad_flag = site.build("--frobnicate")
    assert bad_flag.code == 2 and len(bad_flag.stderr.strip().splitlines()) == 1


def test_stale_record_is_refused_by_bare_mkdocs(site):
    _demo_site(site).build()
    site.write("snippets/demo.py", DEMO.replace("6 * 7", "6 * 8"))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
                          cwd=site.root, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode != 0
    # the region check fired (not the key check that follows it)
    assert "docs/index.md: stale results: snippets/demo.py:answer changed since it ran" in proc.stderr


def test_failed_build_leaves_published_site_untouched(site):
    _demo_site(site).build()
    before = _tree_hash(site.root / "site")
    site.write("docs/index.md", PAGE + "\n{{ d2l:answer.no_such_value }}\n")
    result = site.build()
    assert result.code == 1 and "no_such_value" in result.stderr
    assert _tree_hash(site.root / "site") == before


def test_unknown_token_fails_the_build(site):
    _demo_site(site)
    site.write("docs/index.md", PAGE + "\n{{ d2l:nowhere.value }}\n")
    result = site.build()
    assert result.code == 1 and "no region 'nowhere'" in result.stderr


def test_the_theme_s_source_maps_are_left_out_unless_asked_for(site):
    """Readers never need a theme's *.map files (about 1.3 MB for Material); an author's own
    files under docs/ are published whatever their name."""
    site.write("docs/index.md", "# Home\n")
    site.write("docs/own/notes.map", "mine")
    assert site.build().code == 0
    published = {p.relative_to(site.root / "site").as_posix() for p in (site.root / "site").rglob("*.map")}
    assert published == {"own/notes.map"}
    config = (site.root / "mkdocs.yml").read_text(encoding="utf-8")
    site.write("mkdocs.yml", config.replace("labels: zh", "labels: zh\n      keep_source_maps: true"))
    assert site.build().code == 0
    kept = {p.name for p in (site.root / "site").rglob("*.map")}
    assert "notes.map" in kept and "bootstrap.bundle.min.js.map" in kept  # the theme's, kept
    site.write("mkdocs.yml", config.replace("labels: zh", "labels: zh\n      keep_source_maps: 1"))
    result = site.build()
    assert result.code != 0 and "keep_source_maps" in result.stderr


@pytest.mark.parametrize(("mark", "code", "said"), [
    ("<!-- d2l: gpu=2 -->\n", "print('hi')", "有 GPU 时它会用 2 块 GPU，这次在 CPU 上运行"),
    ("<!-- d2l: gpu -->\n", "print('hi')", "有 GPU 时它会用 1 块 GPU，这次在 CPU 上运行"),
    # inferred: the code imports torch and mentions cuda
    ("", "import torch\nprint(torch.cuda.is_available())", "有 GPU 时它会用 1 块 GPU"),
    ("<!-- d2l: gpu=0 -->\n", "import torch\nprint(torch.cuda.is_available())", None),
    ("", "print('hi')", None),
])
def test_a_page_that_would_use_gpus_says_it_ran_on_the_cpu(site, mark, code, said):
    """A GPU need (declared or inferred) on a CPU build is not silently ignored: the page runs
    on the CPU and its stamp says what it would have used."""
    site.write("snippets/s.py", f"# --8<-- [start:r]\n{code}\n# --8<-- [end:r]\n")
    site.write("docs/index.md", f'# T\n\n{mark}```python\n--8<-- "snippets/s.py:r"\n```\n')
    result = site.build()
    assert result.code == 0, result.stderr
    html = site.html()
    assert ("有 GPU 时" in html) == (said is not None)
    if said is not None:
        assert said in html
    wanted = {"gpu=2": 2, "gpu ": 1, "": 1}
    assert site.record()["pages"]["index.md"]["gpus_wanted"] == (
        0 if said is None else next(n for m, n in wanted.items() if m in mark))


def test_a_region_reads_project_files_by_the_paths_a_reader_uses(site):
    """A region runs in a scratch folder, yet ``open("data/temps.csv")`` reads the project's
    file, as it would for a reader running the code from the project root; the file is an
    input of the page (an edit to it runs the page again)."""
    site.write("data/temps.csv", "12\n15\n")
    site.write("snippets/s.py", "# --8<-- [start:r]\nimport os\nfrom pathlib import Path\n"
                                "rows = open('data/temps.csv').read().split()\n"
                                "print(sum(map(int, rows)), os.path.exists('data/temps.csv'),\n"
                                "      sorted(p.name for p in Path('data').iterdir()))\n"
                                "# --8<-- [end:r]\n")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    result = site.build()
    assert result.code == 0, result.stderr
    assert "27 True [&#x27;temps.csv&#x27;]" in site.html() or "27 True ['temps.csv']" in site.html()
    site.write("data/temps.csv", "12\n16\n")
    again = site.build()
    assert again.code == 0 and "pages: 1 run" in again.stdout
    assert "28 True" in site.html()


@pytest.mark.parametrize("write", [
    "open('snippets/evil.py', 'w').write('x')",
    "open('data/new.csv', 'x')",
    "open('data/keep.csv', 'r+')",  # may write: refused even if it only reads
    "import os\nos.link('data/keep.csv', 'mine.csv')",  # then written through the link
    "import sqlite3\nsqlite3.connect('data/db.sqlite')",
    "import os\nd = os.open('data', os.O_RDONLY)\nos.remove('keep.csv', dir_fd=d)",
    "import os\nos.remove('docs/index.md')",
    "import os\nos.rename('data/keep.csv', 'data/moved.csv')",
    "import os\nos.mkdir('docs/extra')",
    "import shutil\nshutil.rmtree('data/sub')",
    "import shutil\nshutil.copyfile('out.txt', 'data/copy.txt')",
    "open(ROOT + '/data/abs.txt', 'w')",
])
def test_a_region_never_writes_into_the_project(site, write):
    """Whatever path leads there (a link of the scratch folder, an absolute path), a region's
    write, deletion, rename or new folder in the project fails the region naming the path;
    its own files go to its working directory."""
    site.write("data/keep.csv", "1\n")
    site.write("data/sub/inner.txt", "kept\n")
    code = f"ROOT = {str(site.root)!r}\nopen('out.txt', 'w').write('mine')\n{write}"
    site.write("snippets/s.py", "# --8<-- [start:r]\n" + code + "\n# --8<-- [end:r]\n")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    before = sorted(str(p.relative_to(site.root)) for p in site.root.rglob("*")
                    if ".d2l" not in p.parts)
    result = site.build()
    assert result.code == 1 and "PermissionError" in result.stderr, result.stderr
    assert "does not write into the project" in result.stderr
    after = sorted(str(p.relative_to(site.root)) for p in site.root.rglob("*")
                   if ".d2l" not in p.parts)
    assert after == before and (site.root / "data" / "keep.csv").read_text() == "1\n"
    assert not (site.root / "out.txt").exists()


@pytest.mark.parametrize("write", [
    # what no audit event reports: another process, a C library's own open
    "import subprocess\nsubprocess.run(['sh', '-c', 'echo x > data/by-shell.txt']);",
    "import ctypes\nlibc = ctypes.CDLL(None)\nf = libc.fopen(b'data/by-c.txt', b'w')\n"
    "libc.fclose(f);",
    "import os\nd = os.open('data', os.O_RDONLY)\n"
    "os.close(os.open('by-dir-fd.txt', os.O_WRONLY | os.O_CREAT, dir_fd=d));",
])
def test_a_write_the_hook_cannot_see_fails_the_page_after_it_ran(site, write):
    """The page's files are compared with a snapshot taken before its process started: a
    write through another process or a C library fails the page, naming the file."""
    site.write("data/keep.csv", "1\n")
    site.write("snippets/s.py", "# --8<-- [start:r]\n" + write + "\n# --8<-- [end:r]\n")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    result = site.build()
    assert result.code == 1, result.stderr
    assert "files in the project changed while its code ran (data/by-" in result.stderr
    assert not (site.root / ".d2l" / "record.json").exists()


def test_a_new_top_level_file_does_not_run_every_region_again(site):
    """The working directory stands for the project root, whose listing libraries read: a
    file added at the root (a site built, a record saved) is not an input of every region."""
    # a library listing its working directory (as torch's import does) does not make the
    # root's listing an input: a region that prints it is the one case left to the author
    site.write("snippets/s.py", "# --8<-- [start:r]\nimport os\nnames = len(os.listdir('.'))\n"
                                "print('listed')\n# --8<-- [end:r]\n")
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    assert site.build().code == 0
    (site.root / "notes.txt").write_text("new at the root")
    again = site.build()
    assert again.code == 0 and "regions: 0 run" in again.stdout, again.stdout
