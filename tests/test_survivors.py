"""One test per bug that survived the first mutation run (issue: tests that catch the bugs
they are named for). Each asserts the behaviour a real build shows, not only the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import FixtureSite
from test_hostile import LIVE, _one_region, _tree

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def _store_entry(site: FixtureSite) -> Path:
    (entry,) = [p for p in (site.root / ".d2l" / "store").iterdir()]
    return entry


def test_store_entry_edited_into_other_valid_json_is_discarded(site):
    _one_region(site, "print('stable output')")
    assert site.build().code == 0
    entry = _store_entry(site)
    data = json.loads((entry / "entry.json").read_text())
    data["regions"][0]["stdout"] = "forged output\n"
    (entry / "entry.json").write_text(json.dumps(data))  # valid JSON, old checksum
    result = site.build()
    assert result.code == 0 and "checksum mismatch" in result.stderr
    # the record's own sealed result stands in (and is stored again), never the forged one
    assert "pages: 0 run, 1 cached" in result.stdout
    assert "stable output" in site.html() and "forged" not in site.html()
    assert "checksum mismatch" not in site.build().stderr
    (site.root / ".d2l" / "record.json").unlink()
    forged = json.loads((entry / "entry.json").read_text())
    forged["regions"][0]["stdout"] = "forged output\n"
    (entry / "entry.json").write_text(json.dumps(forged))
    result = site.build()  # without the record: run again
    assert result.code == 0 and "pages: 1 run" in result.stdout
    assert "stable output" in site.html() and "forged" not in site.html()


def test_a_region_that_exits_non_zero_after_finishing_fails_the_build(site):
    _one_region(site, "import atexit, os\natexit.register(os._exit, 3)\nprint('finished')")
    result = site.build()
    assert result.code == 1
    assert "failed: exit" in result.stderr and "exit status 3" in result.stderr
    assert not (site.root / ".d2l" / "record.json").exists()


def test_a_region_declared_to_raise_one_class_that_raises_another_fails(site):
    _one_region(site, "# raises: ZeroDivisionError\nraise ValueError('other')")
    result = site.build()
    assert result.code == 1 and "failed: exception: ValueError: other" in result.stderr


def test_output_with_backtick_fences_cannot_close_its_block(site):
    _one_region(site, "print('```')\nprint('<b id=inj>live</b>')\nprint('```')")
    assert site.build().code == 0
    page = site.html()
    assert not LIVE.search(page) and "&lt;b id=inj&gt;live&lt;/b&gt;" in page


def test_a_broken_link_fails_the_site_build_and_publishes_nothing(site):
    _one_region(site, "print('v1')")
    assert site.build().code == 0
    published = _tree(site.root / "site")
    _one_region(site, "print('v2')", prose="[broken](missing-page.md)")
    result = site.build()
    assert result.code == 1 and "mkdocs build --strict failed" in result.stderr
    assert "missing-page.md" in result.stderr
    assert _tree(site.root / "site") == published  # the MkDocs failure path leaves it alone
    assert not [p for p in site.root.iterdir() if p.name.startswith(".site-")]


def test_an_unterminated_region_is_refused_not_run_to_the_end_of_the_file(site, tmp_path):
    marker = tmp_path / "ran"
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", f"# --8<-- [start:r]\nopen({str(marker)!r}, 'w')\n")
    result = site.build()
    assert result.code == 2 and "no complete region 'r'" in result.stderr
    assert "docs/index.md:4" in result.stderr and not marker.exists()


def test_bare_mkdocs_refuses_a_page_whose_imported_helper_changed(site):
    site.write("snippets/__init__.py", "")
    site.write("snippets/helper.py", "K = 1\n")
    _one_region(site, "from snippets.helper import K\nprint(K)")
    assert site.build().code == 0
    site.write("snippets/helper.py", "K = 2\n")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
                          cwd=site.root, capture_output=True, text=True, env=ENV)
    assert proc.returncode != 0
    assert "stale results: module snippets/helper.py changed" in proc.stderr
