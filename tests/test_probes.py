"""What a book's extensions record of each run (``Extensions.probe``): called in the page
process after the regions ran, kept in the page's provenance, shown in its stamp."""

from __future__ import annotations

import pytest

from d2l_compiler.engine.errors import UsageError
from d2l_compiler.engine.record.model import Provenance
from d2l_compiler.engine.render.markdown import labels_for, stamp
from d2l_compiler.engine.render.tokens import Extensions
from d2l_compiler.engine.run.child import probed
from d2l_compiler.engine.run.protocol import Probe


def test_a_probe_runs_only_where_the_regions_imported_its_module_and_a_failing_one_says_so():
    facts = probed((
        Probe(label="implementation", function="platform:python_implementation"),
        Probe(label="never", function="platform:python_version", when="no_such_module_d2l"),
        Probe(label="broken", function="json:loads", when="json"),
    ))
    assert facts["implementation"] == "CPython" and "never" not in facts
    assert facts["broken"].startswith("? (json:loads failed: TypeError")
    assert "\n" not in facts["broken"] and len(facts["broken"]) <= 200


def test_a_probe_is_registered_once_as_module_and_name():
    ext = Extensions()
    ext.probe("精度", "d2l_compiler.chapter.probes:matmul_precision", when="torch")
    assert ext.probes == [Probe(label="精度", function="d2l_compiler.chapter.probes:matmul_precision",
                                when="torch")]
    with pytest.raises(UsageError, match="two extensions register the probe"):
        ext.probe("精度", "platform:node")
    with pytest.raises(UsageError, match="'module:name'"):
        ext.probe("x", "platform.node")


def test_the_stamp_shows_what_the_extensions_recorded():
    line = stamp(Provenance(device="cpu", cpu="CPU-X", python="3.11.7",
                            extensions={"float32 矩阵乘法精度": "highest"}),
                 "2026-12-06T00:00:00+00:00", labels_for("zh"))
    assert "float32 矩阵乘法精度 highest" in line


def test_the_chapter_records_the_matmul_precision_of_pages_that_use_torch(site):
    site.write("docs/index.md", '# T\n\n```python\n--8<-- "snippets/s.py:a"\n```\n\n'
                                '```python\n--8<-- "snippets/s.py:b"\n```\n')
    site.write("docs/plain.md", '# P\n\n```python\n--8<-- "snippets/p.py:a"\n```\n')
    site.write("snippets/s.py", "# --8<-- [start:a]\nimport torch\n"
               "torch.set_float32_matmul_precision('high')\n# --8<-- [end:a]\n"
               "# --8<-- [start:b]\nprint(1)\n# --8<-- [end:b]\n")
    site.write("snippets/p.py", "# --8<-- [start:a]\nprint(2)\n# --8<-- [end:a]\n")
    result = site.build()
    assert result.code == 0, result.stderr
    pages = site.record()["pages"]
    assert pages["index.md"]["provenance"]["extensions"] == {"float32 矩阵乘法精度": "high"}
    assert pages["plain.md"]["provenance"].get("extensions", {}) == {}  # no torch, no probe
    assert "float32 矩阵乘法精度 high" in site.html()
