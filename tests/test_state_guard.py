"""The engine owns exactly the files it writes, and nothing else writes them unseen.

* Generated files (issue 22, class 12): a page's notebook files go when the page stops running
  code, is renamed or deleted; the author's own file under ``docs/generated`` is never
  touched, and one in the way fails the build in one line.
* Tampering (class 14): a region that changes the engine's state (store, record, the list of
  generated files) or a generated file fails the build, naming the file and the pages that
  ran; what it forged is never published.

Small fixture books, no torch; a region reaches the project by the absolute path written
into its code (its page process runs in a temporary directory).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from d2l_compiler.engine.build import BuildOptions, build
from d2l_compiler.engine.errors import BuildError
from d2l_compiler.engine.progress import PlainProgress
from d2l_compiler.engine.publish.generated import MANIFEST
from d2l_compiler.engine.record.io import load_record
from d2l_compiler.engine.run.runner import Limits
from d2l_compiler.engine.sources.project import Project


def _page(root: Path, name: str, code: str | None) -> None:
    """``docs/<name>.md`` running ``code`` (its own region in ``snippets/<name>.py``), or a
    page with prose only (``code`` None)."""
    (root / "snippets").mkdir(exist_ok=True)
    (root / "docs").mkdir(exist_ok=True)
    (root / "mkdocs.yml").write_text("site_name: t\nmarkdown_extensions: [pymdownx.superfences, "
                                     "pymdownx.snippets]\nplugins:\n  - d2l\n")
    if code is None:
        (root / "docs" / f"{name}.md").write_text(f"# {name}\n\nNo code here.\n")
        return
    snippet = name.replace("/", "_")
    (root / "snippets" / f"{snippet}.py").write_text(f"# --8<-- [start:r]\n{code}\n# --8<-- [end:r]\n")
    (root / "docs" / f"{name}.md").write_text(
        f'# {name}\n\n```python\n--8<-- "snippets/{snippet}.py:r"\n```\n\ntext\n')


def _build(root: Path, site: bool = False, only: str | None = None) -> list[str]:
    """Build (and the site, with ``site``); the pages whose regions ran."""
    ran = build(Project(root / "mkdocs.yml"), BuildOptions(only=only, limits=Limits(timeout=60)),
                root / "site" if site else None, PlainProgress(io.StringIO())).regions_ran
    return sorted({entry.partition(":")[0] for entry in ran})


def _stdout(root: Path, page: str) -> str:
    entry = load_record(root / ".d2l" / "record.json").pages[page]
    return "".join(region.run.stdout for region in entry.executed)


def _generated(root: Path) -> list[str]:
    folder = root / "docs" / "generated"
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _failure(root: Path, **options) -> str:
    with pytest.raises(BuildError) as caught:
        _build(root, **options)
    return str(caught.value)


# --- class 12: generated files outlive their page -------------------------------------------

def test_a_page_that_stops_running_code_loses_its_notebook(tmp_path):
    _page(tmp_path, "p1", "print('one')")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    assert _generated(tmp_path) == ["p1.ipynb", "p1.md", "p2.ipynb", "p2.md"]
    _page(tmp_path, "p1", None)
    _build(tmp_path)
    assert _generated(tmp_path) == ["p2.ipynb", "p2.md"]


def test_a_renamed_or_deleted_page_takes_its_notebook_along_and_the_site_still_builds(tmp_path):
    _page(tmp_path, "p1", "print('one')")
    (tmp_path / "docs" / "part").mkdir(parents=True)
    _page(tmp_path, "part/p2", "print('two')")
    _build(tmp_path, site=True)
    (tmp_path / "docs" / "p1.md").rename(tmp_path / "docs" / "p3.md")  # renamed
    (tmp_path / "docs" / "part" / "p2.md").unlink()  # deleted
    _build(tmp_path, site=True)  # the old notebook pages linked to pages that are gone
    assert _generated(tmp_path) == ["p3.ipynb", "p3.md"]
    assert not (tmp_path / "docs" / "generated" / "part").exists()  # left empty: removed
    assert (tmp_path / "site" / "generated" / "p3.ipynb").is_file()
    assert not (tmp_path / "site" / "generated" / "p1.ipynb").exists()


def test_the_authors_own_file_in_generated_stays_and_one_in_the_way_fails_in_one_line(tmp_path):
    _page(tmp_path, "p1", "print('one')")
    mine = tmp_path / "docs" / "generated" / "mine.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("# mine\n")
    _build(tmp_path)
    _page(tmp_path, "p1", None)
    _build(tmp_path)
    assert _generated(tmp_path) == ["mine.md"] and mine.read_text() == "# mine\n"
    in_the_way = tmp_path / "docs" / "generated" / "p2.md"
    in_the_way.write_text("# the author's p2\n")
    _page(tmp_path, "p2", "print('two')")
    message = _failure(tmp_path)
    assert "\n" not in message and "docs/generated/p2.md" in message and "p2.md" in message
    assert in_the_way.read_text() == "# the author's p2\n"
    assert not (tmp_path / "docs" / "generated" / "p2.ipynb").exists()  # nothing half-written
    in_the_way.unlink()
    _build(tmp_path)
    assert _generated(tmp_path) == ["mine.md", "p2.ipynb", "p2.md"]


def test_without_the_list_the_engines_marked_files_are_its_own(tmp_path):
    """A deleted state directory (or one from before the list was kept): the notebook files
    bearing the engine's marks are its own, anything else stays the author's."""
    _page(tmp_path, "p1", "print('one')")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    (tmp_path / "docs" / "generated" / "notes.md").write_text("---\ntitle: mine\n---\n")
    shutil.rmtree(tmp_path / ".d2l")
    (tmp_path / "docs" / "p1.md").unlink()
    _build(tmp_path)
    assert _generated(tmp_path) == ["notes.md", "p2.ipynb", "p2.md"]


def test_a_build_of_one_page_keeps_the_other_pages_notebooks(tmp_path):
    _page(tmp_path, "p1", "print('one')")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    _page(tmp_path, "p2", "print('two again')")
    assert _build(tmp_path, only="p2.md") == ["p2.md"]
    assert _generated(tmp_path) == ["p1.ipynb", "p1.md", "p2.ipynb", "p2.md"]
    _page(tmp_path, "p1", None)
    _build(tmp_path)
    assert _generated(tmp_path) == ["p2.ipynb", "p2.md"]


# --- class 14: tampering ---------------------------------------------------------------------

def _forge_store(store: Path) -> str:
    """Region code that rewrites every store entry showing ``genuine`` to show ``FORGED``,
    with its checksum recomputed: a forgery the store's own check cannot see."""
    return f"""import hashlib, json, pathlib
for entry in pathlib.Path({str(store)!r}).iterdir():
    payload = entry / 'entry.json'
    if payload.is_file() and 'genuine' in payload.read_text(encoding='utf-8'):
        text = payload.read_text(encoding='utf-8').replace('genuine', 'FORGED')
        payload.write_text(text, encoding='utf-8')
        meta = json.loads((entry / 'meta.json').read_text())
        meta['sha256'] = hashlib.sha256(text.encode('utf-8')).hexdigest()
        (entry / 'meta.json').write_text(json.dumps(meta))
print('forger ran')"""


@pytest.mark.parametrize("shared", [None, "../shared-store"], ids=["own-store", "shared-store"])
def test_a_region_forging_another_pages_store_entry_fails_and_the_forgery_is_never_shown(
        tmp_path, monkeypatch, shared):
    root = tmp_path / "book"
    root.mkdir()
    store = root / ".d2l" / "store"
    if shared is not None:  # D2L_STORE_DIR, as CI restores it from its cache
        monkeypatch.setenv("D2L_STORE_DIR", shared)
        store = tmp_path / "shared-store"
    _page(root, "p1", "print('genuine')")
    _page(root, "p2", "print('honest')")
    _build(root)
    _page(root, "p2", _forge_store(store))
    message = _failure(root)
    assert "\n" not in message
    shown = ".d2l/store/" if shared is None else str(store)
    assert message.startswith(shown) and "while p2.md ran" in message
    stored = [entry.read_text() for entry in store.glob("*/entry.json")]
    assert not any('"stdout": "FORGED' in text for text in stored)  # the forged entry: removed
    _page(root, "p2", "print('honest')")
    _build(root)  # p1's entry is gone: it runs again, or comes from the (genuine) record
    assert _stdout(root, "p1.md") == "genuine\n"
    assert _build(root) == []
    assert _stdout(root, "p1.md") == "genuine\n"


def test_a_region_writing_into_docs_generated_fails_and_its_file_is_not_published(tmp_path):
    _page(tmp_path, "p1", "print('one')")
    target = tmp_path / "docs" / "generated" / "x.md"
    target.parent.mkdir(parents=True)
    # by another process (a write of the region's own is refused as it happens: see
    # test_engine's test_a_region_never_writes_into_the_project)
    _page(tmp_path, "p2", f"import subprocess\nsubprocess.run(['sh', '-c', "
                          f"'printf \"# forged\" > {target}'])")
    message = _failure(tmp_path)
    assert "\n" not in message
    assert message.startswith("docs/generated/x.md ") and "p2.md" in message
    assert not target.exists()
    moved = list((tmp_path / ".d2l" / "tampered").rglob("x.md"))
    assert [p.read_text() for p in moved] == ["# forged"]  # set aside, not lost
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path, site=True)
    assert not target.exists() and not (tmp_path / "site" / "generated" / "x").exists()


def test_a_region_rewriting_the_list_of_generated_files_cannot_get_the_authors_file_deleted(tmp_path):
    """Our own member of the class: the list says which files the engine may delete; a
    region that adds the author's file to it would have the next build delete that file."""
    _page(tmp_path, "p1", "print('one')")
    mine = tmp_path / "docs" / "generated" / "mine.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("# mine\n")
    _build(tmp_path)
    manifest = tmp_path / ".d2l" / MANIFEST
    _page(tmp_path, "p2", f"""import json, pathlib
path = pathlib.Path({str(manifest)!r})
data = json.loads(path.read_text())
data['files']['generated/mine.md'] = 'gone.md'
path.write_text(json.dumps(data))""")
    message = _failure(tmp_path)
    assert message.startswith(f".d2l/{MANIFEST} ") and "p2.md" in message
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    assert mine.read_text() == "# mine\n"


def test_a_region_deleting_the_record_or_a_store_entry_fails_the_build(tmp_path):
    _page(tmp_path, "p1", "print('genuine')")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    record = tmp_path / ".d2l" / "record.json"
    _page(tmp_path, "p2", f"import pathlib\npathlib.Path({str(record)!r}).unlink()")
    assert _failure(tmp_path).startswith(".d2l/record.json ")
    store = tmp_path / ".d2l" / "store"
    _page(tmp_path, "p2", f"""import pathlib, shutil
for entry in pathlib.Path({str(store)!r}).iterdir():
    if 'genuine' in (entry / 'entry.json').read_text():
        shutil.rmtree(entry)""")
    assert _failure(tmp_path).startswith(".d2l/store/")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    assert _stdout(tmp_path, "p1.md") == "genuine\n"


def test_the_engines_own_changes_and_the_logs_are_not_tampering(tmp_path):
    """Entries replaced, discarded as corrupt, results stored as pages finish: the engine's
    own. The logs are the page processes' own output, never read back: a region may write
    there (its prints do)."""
    _page(tmp_path, "p1", "print('one')")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    for payload in (tmp_path / ".d2l" / "store").glob("*/entry.json"):
        payload.write_text("{")  # corrupt (between builds): discarded, taken from the record
    logs = tmp_path / ".d2l" / "logs"
    _page(tmp_path, "p2", f"import pathlib\n(pathlib.Path({str(logs)!r}) / 'note').write_text('x')")
    assert _build(tmp_path) == ["p2.md"]
    assert _stdout(tmp_path, "p1.md") == "one\n"


def test_the_forgery_check_is_a_stat_not_a_hash(tmp_path):
    """A region that rewrites an entry with the very same bytes and puts its times back with
    ``utime`` still changes its ctime (which nothing can set back): caught."""
    _page(tmp_path, "p1", "print('genuine')")
    _page(tmp_path, "p2", "print('two')")
    _build(tmp_path)
    store = tmp_path / ".d2l" / "store"
    _page(tmp_path, "p2", f"""import os, pathlib
for payload in pathlib.Path({str(store)!r}).glob('*/entry.json'):
    if 'genuine' in payload.read_text():
        st = os.stat(payload)
        payload.write_bytes(payload.read_bytes())
        os.utime(payload, ns=(st.st_atime_ns, st.st_mtime_ns))""")
    assert _failure(tmp_path).startswith(".d2l/store/")
