"""A record brought back from another machine (a GPU's) and named in the plugin's
``records:`` is shown beside this build's results while it matches the sources, and left
out, saying so, once it does not."""

from __future__ import annotations

import json
import shutil

from conftest import seal, page_key
from d2l_compiler.engine.sources import key
from d2l_compiler.engine.sources.discover import read_region

GPU = "NVIDIA Fixture GPU (test double)"
CONFIG_RECORDS = "\n      records: [records/gpu.json]\n"


def _site_with_a_gpu_record(site, monkeypatch=None):
    site.write("docs/index.md", '# GPU\n\n```python\n--8<-- "snippets/s.py:r"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint('ran here')\n# --8<-- [end:r]\n")
    assert site.build("--no-site").code == 0
    record = site.record()
    entry = record["pages"]["index.md"]
    regions = [read_region(site.root, r["id"]) for r in entry["regions"] if r["executed"]]
    if monkeypatch is not None:  # recorded by another interpreter, as a GPU machine's is
        monkeypatch.setattr(key.platform, "python_version", lambda: "3.12.3")
    entry["key"], entry["inputs"] = page_key(site.root, regions, "cuda", page="index.md")
    if monkeypatch is not None:
        monkeypatch.undo()
    entry["provenance"].update(device="cuda", gpu=GPU, torch="2.13.0+cu128")
    record["pages"]["index.md"] = seal(entry)
    record["provenance"]["device"] = "cuda"
    (site.root / "records").mkdir()
    (site.root / "records" / "gpu.json").write_text(json.dumps(record), encoding="utf-8")
    shutil.rmtree(site.root / ".d2l")  # a fresh clone: only the committed record is there
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text(encoding="utf-8").rstrip("\n") + CONFIG_RECORDS,
                      encoding="utf-8")


def test_a_named_record_is_shown_beside_while_it_matches(site):
    _site_with_a_gpu_record(site)
    _shown_beside(site)


def test_a_named_record_from_another_python_is_shown_beside(site, monkeypatch):
    _site_with_a_gpu_record(site, monkeypatch)
    recorded = json.loads((site.root / "records" / "gpu.json").read_text(encoding="utf-8"))
    assert recorded["pages"]["index.md"]["inputs"]["python"] == "3.12.3"  # not this machine's
    _shown_beside(site)


def _shown_beside(site):
    built = site.build()
    assert built.code == 0, built.stderr
    assert [e["inputs"]["device"] for e in site.record()["other_devices"]["index.md"]] == ["cuda"]
    assert "同一份代码也在另一种设备上运行过：设备 GPU" in site.html()
    assert site.run("check").code == 0


def test_a_named_record_that_no_longer_matches_is_left_out_saying_why(site):
    _site_with_a_gpu_record(site)
    site.write("snippets/s.py", "# --8<-- [start:r]\nprint('edited')\n# --8<-- [end:r]\n")
    built = site.build()
    assert built.code == 0, built.stderr
    said = built.stdout + built.stderr
    assert "not shown: the cuda results of index.md in records/gpu.json" in said
    assert not site.record()["other_devices"]
    assert "另一种设备" not in site.html() and "edited" in site.html()


def test_a_named_record_that_is_missing_is_one_line(site):
    _site_with_a_gpu_record(site)
    (site.root / "records" / "gpu.json").unlink()
    built = site.build()
    assert built.code == 2
    assert built.stderr.strip() == ("error: records: records/gpu.json: no build record there "
                                    "(missing, or of another format; named in the d2l plugin's "
                                    "records: option)")


def test_a_record_no_longer_named_leaves_nothing_behind(site):
    _site_with_a_gpu_record(site)
    assert site.build().code == 0 and site.record()["other_devices"]
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(CONFIG_RECORDS, "\n"),
                      encoding="utf-8")
    rebuilt = site.build()
    assert rebuilt.code == 0, rebuilt.stderr
    assert not site.record()["other_devices"]  # as a fresh clone would show
    assert "另一种设备" not in site.html()


def test_a_bad_named_record_fails_before_anything_runs(site):
    _site_with_a_gpu_record(site)
    config = site.root / "mkdocs.yml"
    for named, message in (("../gpu.json", "records: ../gpu.json: outside the project (name a "
                                           "file in it)"),
                           ("records", "records: records: not a file")):
        config.write_text(config.read_text(encoding="utf-8").replace(
            "[records/gpu.json]", f"[{named}]"), encoding="utf-8")
        built = site.build()
        assert built.code == 2 and built.stderr.strip() == f"error: {message}", built.stderr
        assert not built.stdout.strip().startswith("running")  # nothing ran
        config.write_text(config.read_text(encoding="utf-8").replace(
            f"[{named}]", "[records/gpu.json]"), encoding="utf-8")


def test_a_named_record_edited_by_hand_is_not_shown(site):
    _site_with_a_gpu_record(site)
    path = site.root / "records" / "gpu.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    record["pages"]["index.md"]["regions"][0]["run"]["stdout"] = "forged\n"  # digest no longer matches
    path.write_text(json.dumps(record), encoding="utf-8")
    built = site.build()
    assert built.code == 0, built.stderr
    assert "not shown: the cuda results of index.md in records/gpu.json: its record entry " \
           "does not match its digest" in built.stdout + built.stderr
    assert not site.record()["other_devices"] and "forged" not in site.html()
