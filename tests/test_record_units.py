"""The record stage in-process: the typed model's JSON round trip and validation, the sealed
record file, the content store. Fast guards for ``nox -s mutation``."""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import metadata
from msgspec.structs import replace

import pytest

from conftest import seal
from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record import io
from d2l_compiler.engine.record.model import (FORMAT, CapturedWarning, Fault, PageEntry,
                                              RecordError, RegionEntry, RegionError, RegionRun,
                                              Provenance, Status, StoredPage)
from d2l_compiler.engine.record.whole import BuildProvenance, BuildSummary, Record
from d2l_compiler.engine.sources.inputs import PageInputs, RegionInputs
from d2l_compiler.engine.record.store import Store

RUN = RegionRun(1, "snippets/a.py:r", Status.ERROR, 0.25, "out\n", "stray\n", "raised\n",
                (CapturedWarning("UserWarning", "<w>", "a.py:3"),), {"x": 1.5},
                {"more than 200 values": {"count": 1, "names": ["y"]}},
                RegionError(Fault.EXCEPTION, "KeyError", "'k'", 4, "Traceback ..."))
ENTRY = RegionEntry("snippets/a.py:r", "r", "snippets/a.py", 3, 12, "snippets/a.py:r", "f" * 64,
                    True, replace(RUN, index=0))
SHOWN = RegionEntry("lib/b.py:s", "s", "lib/b.py", 1, 20, "lib/b.py:s", "e" * 64, False, None)
INPUTS = PageInputs(format=FORMAT, python="3.11.7", device="cpu", files={"a.py": "1"})
PAGE = PageEntry("a" * 64, INPUTS, Provenance(device="cpu"), "2026-11-30T12:00:00Z",
                 1.5, 42.0, (ENTRY, SHOWN), True).sealed()
RECORD = Record(BuildProvenance("cpu", "abc+dirty", "2026-11-30T12:00:00Z", "3.11.7",
                                BuildSummary(("index.md",), ("other.md",), 2.5)),
                {"index.md": PAGE})
STORED = StoredPage("k", None, Provenance(), "t", 1.0, 2.0, ())


def test_the_record_round_trips_through_json():
    data = json.loads(json.dumps(RECORD.to_json()))
    assert Record.from_json(data) == RECORD
    assert data["format"] == FORMAT and data["provenance"]["summary"]["ran"] == ["index.md"]
    stored = StoredPage(PAGE.key, RegionInputs(format=FORMAT, python="3", device="cpu",
                                               page="index.md", region=("a.py:r", "1")),
                        PAGE.provenance, PAGE.executed_at, PAGE.duration, PAGE.peak_mb, (RUN,))
    assert StoredPage.from_json(json.loads(json.dumps(stored.to_json()))) == stored


def test_region_runs_write_every_field():
    """A reader of the record never needs a default: every field is written, empty or not."""
    bare = RegionRun(0, "a:r").to_json()
    assert set(bare) == set(RegionRun.__struct_fields__)
    assert bare["status"] == "ok" and bare["error"] is None and bare["stray"] == ""
    full = RUN.to_json()
    assert full["stray"] == "stray\n" and full["raised"] == "raised\n"
    assert full["error"]["fault"] == "exception" and full["values_dropped"]
    assert RegionRun.from_json({"index": 3, "id": "a:r"}) == RegionRun(3, "a:r")
    with pytest.raises(RecordError, match="missing required field `index`"):
        RegionRun.from_json({"id": "a:r"})


def test_page_entry_lists_its_executed_regions():
    assert PAGE.executed == [ENTRY]
    assert not io.tampered(PAGE)


MALFORMATIONS = [
    lambda d: d.update(format=1),
    lambda d: d.update(pages=[]),
    lambda d: d.update(provenance=None),
    lambda d: d["pages"]["index.md"].update(digest=5),
    lambda d: d["pages"]["index.md"].update(duration="1"),
    lambda d: d["pages"]["index.md"].update(duration=True),  # a bool is not a number
    lambda d: d["pages"]["index.md"].update(regions={}),
    lambda d: d["pages"]["index.md"].update(inputs=[]),
    lambda d: d["pages"]["index.md"]["regions"][0]["run"].update(status="weird"),
    lambda d: d["pages"]["index.md"]["regions"][0].update(line="3"),
    lambda d: d["pages"]["index.md"]["regions"][0]["run"].update(warnings={"a": 1}),
    lambda d: d["pages"]["index.md"]["regions"][0]["run"].update(warnings=[{"category": 1}]),
    lambda d: d["pages"]["index.md"]["regions"][0]["run"].update(values=[1]),
    lambda d: d["pages"]["index.md"]["regions"][0]["run"]["error"].update(fault="gone"),
    lambda d: d["pages"]["index.md"]["regions"][0].update(id=None),
    lambda d: d["pages"]["index.md"]["regions"][0].update(stdout="forged"),  # not a field here
    lambda d: d["pages"]["index.md"]["inputs"].update(device=None),
    lambda d: d["pages"]["index.md"].update(key="not a digest"),
    lambda d: d["pages"]["index.md"]["provenance"].update(threads="four"),
]


@pytest.mark.parametrize("change", MALFORMATIONS)
def test_malformed_records_name_what_is_wrong(change):
    data = json.loads(json.dumps(RECORD.to_json()))
    change(data)
    with pytest.raises(RecordError) as error:
        Record.from_json(data)
    assert str(error.value)  # one readable line
    assert "\n" not in str(error.value)


def test_kind_names_in_messages():
    with pytest.raises(RecordError, match=r"page: Expected `float`, got `null` - at `\$.duration`"):
        PageEntry.from_json({**PAGE.to_json(), "duration": None}, "page")
    with pytest.raises(RecordError, match="expected an object, got list"):
        Record.from_json([1, 2])


def test_sealed_records_detect_any_edit():
    data = PAGE.to_json()
    assert io.entry_digest(data) == PAGE.digest == seal(data)["digest"]
    edited = PageEntry.from_json({**data, "regions": [
        {**data["regions"][0], "run": {**data["regions"][0]["run"], "stdout": "forged\n"}},
        data["regions"][1]]}, "page")
    assert io.tampered(edited)


def test_the_record_file_is_atomic_html_safe_and_validated(tmp_path):
    path = tmp_path / "state" / "record.json"
    io.write_record(path, RECORD)
    text = path.read_text(encoding="utf-8")
    assert "<w>" not in text and "\\u003cw\\u003e" in text
    assert io.load_record(path) == RECORD
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]  # no temporary left
    assert io.load_record(tmp_path / "missing.json") is None
    path.write_text(json.dumps({"format": FORMAT - 1}))
    assert io.load_record(path) is None  # another format: as if there were none
    for text, message in (("{", "unreadable"), ("[1, 2]", "a JSON list, not an object"),
                          (json.dumps({"format": FORMAT, "pages": {}}), "malformed")):
        path.write_text(text)
        with pytest.raises(UsageError, match=message):
            io.load_record(path)


def test_an_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    io.write_json_atomic(path, {"old": True})

    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OSError):
        io.write_json_atomic(path, {"new": True})
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_the_record_file_is_canonical_text(tmp_path):
    path = tmp_path / "a" / "b" / "record.json"  # missing parents are created
    io.write_json_atomic(path, {"z": "中文 <b>", "a": [1, {"y": 2, "x": 1}]})
    assert path.read_text(encoding="utf-8") == (
        '{\n "a": [\n  1,\n  {\n   "x": 1,\n   "y": 2\n  }\n ],\n "z": "中文 \\u003cb\\u003e"\n}')


def test_a_consumer_can_verify_a_digest_by_the_documented_rule():
    entry = {"key": "k", "regions": [{"stdout": "中文"}], "digest": "ignored"}
    expected = hashlib.sha256(json.dumps({"key": "k", "regions": [{"stdout": "中文"}]},
                                         sort_keys=True, ensure_ascii=True).encode()).hexdigest()
    assert io.entry_digest(entry) == expected


def test_git_commit_names_the_checkout_quietly(tmp_path, monkeypatch, capfd):
    import subprocess

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f.txt").write_text("1")
    subprocess.run([*git, "add", "f.txt"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    capfd.readouterr()
    commit = io.git_commit(tmp_path)
    assert len(commit) == 12 and int(commit, 16) >= 0
    (tmp_path / "f.txt").write_text("2")
    assert io.git_commit(tmp_path) == commit + "+dirty"
    assert capfd.readouterr() == ("", "")


def test_git_commit_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert io.git_commit(tmp_path) == "unknown"
    assert len(io.utc_now()) == 20 and io.utc_now().endswith("Z")


def test_the_store_verifies_every_read(tmp_path):
    warnings: list[str] = []
    store = Store(tmp_path / "store", warnings.append)
    stored = replace(STORED, key="k1", runs=(RUN,))
    assert store.get("k1") is None and warnings == []
    store.put("k1", stored)
    store.put("k1", stored)  # replacing an entry is fine
    assert store.get("k1") == stored
    entry = tmp_path / "store" / "k1" / "entry.json"
    data = json.loads(entry.read_text())
    data["regions"][0]["stdout"] = "forged"
    entry.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True))
    assert store.get("k1") is None and "checksum mismatch" in warnings[-1]
    assert not (tmp_path / "store" / "k1").exists()
    store.put("k2", stored)
    meta = tmp_path / "store" / "k2" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": FORMAT - 1}))
    count = len(warnings)  # another engine's format is not corruption: dropped quietly
    assert store.get("k2") is None and len(warnings) == count
    assert not (tmp_path / "store" / "k2").exists()
    store.put("k3", stored)
    meta = tmp_path / "store" / "k3" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format": "2"}))
    assert store.get("k3") is None and f"expected {FORMAT}" in warnings[-1]


def test_the_store_survives_files_it_cannot_delete(tmp_path, monkeypatch):
    import os

    warnings: list[str] = []
    store = Store(tmp_path / "deep" / "store", warnings.append)  # missing parents are created
    stored = STORED
    store.put("k1", stored)
    store.put("k2", stored)
    (tmp_path / "deep" / "store" / "k1" / "meta.json").write_text("{}")

    def busy(*args, **kwargs):
        raise PermissionError("busy")
    monkeypatch.setattr(os, "unlink", busy)
    monkeypatch.setattr(os, "rmdir", busy)
    assert store.get("k1") is None and "discarding corrupt store entry" in warnings[-1]
    assert store.keep_only(["k1"]) == ["k2"]  # asked to go; a leftover is not a failure


def test_the_store_keeps_only_what_the_build_used(tmp_path):
    store = Store(tmp_path / "store", print)
    assert store.keep_only(["x"]) == []  # no store yet
    stored = STORED
    for key in ("a", "b", "c"):
        store.put(key, stored)
    (tmp_path / "store" / ".stale-tmp").mkdir()
    assert sorted(store.keep_only(["b"])) == [".stale-tmp", "a", "c"]
    assert [p.name for p in (tmp_path / "store").iterdir()] == ["b"]


def test_staleness_is_explained_in_words():
    from d2l_compiler.engine.record.freshness import explain

    old = PageInputs(regions=[("a.py:r", "1"), ("a.py:s", "2")],
                     files={"m.py": "1", "gone.py": "1"}, data={"d.csv": "1"},
                     packages={"torch": ["torch==2.12"]}, python="3.11", device="cpu", format=2)
    new = replace(old, regions=[("a.py:r", "9"), ("a.py:s", "2")],
                  files={"m.py": "2", "new.py": "1"}, data={"d.csv": "2"},
                  packages={"torch": ["torch==2.13"]}, device="cuda")
    assert explain(old, old) == []
    assert explain(old, new) == [
        "a.py:r changed since it ran", "module gone.py no longer used", "module m.py changed",
        "module new.py newly used", "data file d.csv changed", "package torch==2.12 -> torch==2.13",
        "device cpu -> cuda"]
    swapped = replace(old, regions=old.regions[::-1])
    assert explain(old, swapped) == ["the page runs its regions in another order or number: s → r"]
    nothing = PageInputs(format=2, python="3.11", device="cpu")
    assert explain(nothing, old)[:1] == ["region a.py:r newly used"]


@pytest.mark.parametrize("instance, field", [
    (RUN.warnings[0], "message"), (RUN.error, "message"), (RUN, "stdout"), (ENTRY, "line"),
    (PAGE, "digest"), (RECORD.provenance, "device"), (RECORD, "pages"),
    (STORED, "key"), (PAGE.inputs, "device"), (PAGE.provenance, "cpu"),
])
def test_the_record_model_is_immutable(instance, field):
    with pytest.raises(AttributeError, match="immutable"):
        setattr(instance, field, None)


def test_optional_fields_have_their_documented_defaults_and_the_others_are_required():
    data = ENTRY.to_json()
    del data["target"]
    with pytest.raises(RecordError, match="missing required field `target`"):
        RegionEntry.from_json(data, "r")
    assert RegionEntry.from_json({**data, "target": "x.py:r"}, "r").target == "x.py:r"
    assert PageEntry("k", INPUTS, Provenance(), "t", 1.0, 1.0, ()).ran is False  # cached unless it ran
    assert PageEntry("k", INPUTS, Provenance(), "t", 1.0, 1.0, ()).digest == ""
    page = PAGE.to_json()
    del page["peak_mb"]
    with pytest.raises(RecordError, match="peak_mb"):
        PageEntry.from_json(page, "p")
    with pytest.raises(RecordError, match="Expected `float`, got `null`"):
        RegionRun.from_json({"index": 0, "id": "a", "duration": None})
    warning = CapturedWarning.from_json({"category": "W", "message": "m"}, "w")
    assert warning.where == ""
    error = RegionError.from_json({"fault": "exit"}, "e")
    assert (error.type, error.message, error.line, error.traceback) == ("", "", None, "")
    with pytest.raises(RecordError, match="Expected `int | null`, got `str`"):
        RegionError.from_json({"fault": "exit", "line": "3"}, "e")
    with pytest.raises(RecordError, match="missing required field `device`"):
        BuildProvenance.from_json({})
    assert BuildProvenance("cpu", "c", "d", "p") == BuildProvenance("cpu", "c", "d", "p",
                                                                    BuildSummary((), (), 0.0))
    assert Provenance.from_json({}) == Provenance(device="", git_commit="unknown")


def test_times_are_shown_as_readers_write_them():
    from d2l_compiler.engine.record.io import readable_time

    assert readable_time("2026-11-30T14:04:01Z") == "2026-11-30 14:04 UTC"
    assert readable_time("yesterday") == "yesterday"  # a record from elsewhere: shown as is


def test_a_span_of_times_writes_the_shared_date_and_zone_once():
    from d2l_compiler.engine.record.io import readable_span

    assert readable_span("2026-12-05T09:28:00Z", "2026-12-05T13:00:59Z") == "2026-12-05 09:28–13:00 UTC"
    assert (readable_span("2026-12-04T23:50:00Z", "2026-12-05T00:10:00Z")
            == "2026-12-04 23:50 – 2026-12-05 00:10 UTC")
    assert readable_span("then", "2026-12-05T13:00:00Z") == "then – 2026-12-05 13:00 UTC"


def test_the_published_schema_is_the_model_s_own_and_judges_as_the_reader_does(tmp_path):
    """The schema is generated from the typed record, so it names the engine's format and
    accepts what the engine writes; and every malformation the reader refuses, it refuses
    too (one definition: they cannot drift, as a hand-written schema once did, saying
    "format 2" beside ``"const": 3``)."""
    import jsonschema

    from d2l_compiler.engine.formats import RECORD_FORMAT
    from d2l_compiler.engine.record.schema import record_schema, schema_file

    schema = record_schema()
    assert f"format {RECORD_FORMAT}" in schema["title"]
    path = schema_file(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(schema))
    written = json.loads(json.dumps(RECORD.to_json()))
    jsonschema.validate(written, schema)
    for change in MALFORMATIONS:
        broken = json.loads(json.dumps(written))
        change(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


@pytest.mark.parametrize("tooling", ["COVERAGE_PROCESS_START", "D2L_COVERAGE_CONTEXT",
                                     "PYTEST_CURRENT_TEST", "NOX_CURRENT_SESSION", "TERM"])
def test_the_whole_environment_leaves_out_what_a_tool_sets_per_run(tmp_path, tooling):
    """A region that lists the environment depends on it, but not on the bookkeeping of the
    shell or tool it runs under (a coverage run labels every test differently)."""
    from d2l_compiler.engine.record.observed import current

    base = {"HOME": "/home/author", "LANG": "C.UTF-8"}
    digest = current("env:*", tmp_path, base)
    assert current("env:*", tmp_path, {**base, tooling: "this run"}) == digest
    assert current("env:*", tmp_path, {**base, "BOOK_SCALE": "2"}) != digest


def _install(site, name: str = "fakepkg", body: str = "VALUE = 1\n") -> metadata.Distribution:
    """A distribution as pip leaves it: its files, then RECORD (hash and size of each, the
    script in bin/ naming this environment's interpreter) written last."""

    files = {f"{name}/__init__.py": body.encode(), f"{name}-1.0.dist-info/METADATA":
             f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
             f"../../../bin/{name}": f"#!{site}/python\n".encode()}
    lines = []
    for rel, data in files.items():
        path = (site / rel).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{rel},sha256={digest},{len(data)}")
    lines.append(f"{name}-1.0.dist-info/RECORD,,")
    (site / f"{name}-1.0.dist-info" / "RECORD").write_text("\n".join(lines) + "\n")
    return metadata.PathDistribution(site / f"{name}-1.0.dist-info")


def test_the_same_wheel_in_two_environments_is_the_same_input_and_an_edit_is_not(tmp_path):
    """A new virtual environment holding the same packages must not re-run the book; an
    installed file edited in place (same size, its modification time put back) must."""
    import os
    import time

    from d2l_compiler.engine.record.observed import distribution_digest

    first = _install(tmp_path / "a" / "lib" / "site-packages")
    time.sleep(0.01)
    second = _install(tmp_path / "b" / "lib" / "site-packages")
    assert distribution_digest(first) == distribution_digest(second)
    assert distribution_digest(first) != distribution_digest(
        _install(tmp_path / "c" / "lib" / "site-packages", body="VALUE = 2\n"))  # another wheel
    module = tmp_path / "a" / "lib" / "site-packages" / "fakepkg" / "__init__.py"
    before = module.stat()
    time.sleep(0.01)
    module.write_text("VALUE = 3\n")  # same size
    os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert distribution_digest(first) != distribution_digest(second)
    module.unlink()
    assert distribution_digest(first) != distribution_digest(second)
