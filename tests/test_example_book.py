"""The second book in examples/: the engine used through the installed package and
``plugins: - d2l`` alone, with its own code folder, its own pages, and no torch."""

from __future__ import annotations

import shutil

import pytest

from conftest import ROOT, read_record, run_cli

BOOK = ROOT / "examples" / "tiny-book"


def test_example_book_builds_through_the_plugin(tmp_path):
    book = tmp_path / "tiny-book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("site", ".d2l"))
    result = run_cli("build", cwd=book)
    assert result.code == 0, result.stderr
    assert "pages: 2 run" in result.stdout
    html = (book / "site" / "index.html").read_text(encoding="utf-8")
    assert "[0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89" in html
    assert "The twentieth Fibonacci number is 6765" in html and "1.618034" in html
    assert "Output (" in html  # this book's labels, not the chapter's
    errors = (book / "site" / "errors" / "index.html").read_text(encoding="utf-8")
    assert "ValueError: fib is not defined for -1" in errors
    record = read_record(book)
    assert all(entry["provenance"]["torch"] is None for entry in record["pages"].values())
    assert all(r["path"] == "lessons/fib.py" and r["executed"]
               for entry in record["pages"].values() for r in entry["regions"])
    checked = run_cli("check", cwd=book)
    assert checked.code == 0 and "fresh  index.md" in checked.stdout
    again = run_cli("build", cwd=book)
    assert "pages: 0 run, 2 cached" in again.stdout
    assert not any(book.rglob("snippets"))


def test_published_record_matches_its_json_schema_and_round_trips(tmp_path):
    """The record a build publishes validates against the schema published beside it, and
    the typed model reads and writes it back unchanged."""
    import json

    import jsonschema

    from d2l_compiler.engine.record.whole import Record

    book = tmp_path / "tiny-book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("site", ".d2l"))
    assert run_cli("build", cwd=book).code == 0
    published = json.loads((book / "site" / "d2l-record.json").read_text(encoding="utf-8"))
    schema = json.loads((book / "site" / "d2l-record.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(published, schema)
    assert json.loads(json.dumps(Record.from_json(published).to_json())) == published
    broken = json.loads(json.dumps(published))
    broken["pages"]["index.md"]["regions"][0]["run"]["error"] = {"fault": "gremlins"}
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepts an unknown fault")


WEATHER = ROOT / "examples" / "weather-book"
# what the weather book may not need: torch and every package of this chapter
_CHAPTER_ONLY = ("torch", "onnx", "onnxruntime", "onnxscript", "jieba", "mkdocstrings",
                 "material", "zensical")
_WITHOUT_THE_CHAPTER = f"""
import sys
from importlib.abc import MetaPathFinder

class _Absent(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {_CHAPTER_ONLY!r} or name.startswith("d2l_compiler.chapter"):
            raise ImportError(f"{{name}} is not installed (engine only)")
        return None

sys.meta_path.insert(0, _Absent())
from d2l_compiler.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_weather_book_shows_data_tabs_a_value_and_a_figure(tmp_path):
    """The second example book, built with the engine and matplotlib only (torch and the
    chapter's packages unimportable): a data file read by its relative path, content tabs
    (one of them in the notebook), a trailing expression's value, a figure with a numbered
    caption, references across its two pages, numbered sections, a formula, a value shown
    with display(), a cited value; an edit to the data file runs both pages again."""
    import json
    import os
    import re
    import subprocess
    import sys

    pytest.importorskip("matplotlib")
    book = tmp_path / "weather"
    shutil.copytree(WEATHER, book, ignore=shutil.ignore_patterns("site", ".d2l", "generated"))

    def build() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _WITHOUT_THE_CHAPTER, "build"], cwd=book,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "D2L_DEVICE": "cpu"})
    result = build()
    assert result.returncode == 0, result.stderr
    html = (book / "site" / "index.html").read_text(encoding="utf-8")
    assert "(5, [9, 11, 8, 13, 14])" in html  # the trailing expression's value
    assert html.count("mean high: 11.0 °C") == 2  # both tabs ran; the site shows both
    assert "The warmest day was Fri" in html
    [(alt, src)] = re.findall(r'<img alt="([^"]*)" src="(generated/pictures/[0-9a-f]{24}\.svg)"',
                              html)  # a file of the site, named by its content
    assert alt == "Daily temperatures" and "<svg" in (book / "site" / src).read_text()
    assert "Legend object at 0x" not in html  # axes.legend()'s value names an address
    assert ('<span class="d2l-caption-number">Figure 1.1</span> Highs and lows of the week, '
            "from <code>data/temps.csv</code>") in html
    assert '<a href="spread/#sec-spread">Section 2.1</a>' in html
    spread = (book / "site" / "spread" / "index.html").read_text(encoding="utf-8")
    assert '<a href="../#fig-temperatures">Figure 1.1</a>' in spread
    assert '<a href="#tab-summary">Table 2.1</a>' in spread
    assert '<span class="d2l-section-number">2.1</span> The formula' in spread
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in spread
    assert ('<div class="d2l-html"><table><tbody><tr><th>mean</th><th>spread</th></tr>'
            "<tr><td>11.0 °C</td><td>2.3 °C</td></tr></tbody></table></div>") in spread
    assert "The highs spread by 2.3 °C around their mean." in spread
    book_json = json.loads((book / "docs" / "generated" / "index.ipynb").read_text())
    code = ["".join(c["source"]) for c in book_json["cells"] if c["cell_type"] == "code"]
    assert any("statistics.fmean" in c for c in code)
    assert not any("sum(highs) / len(highs)" in c for c in code)  # the other tab is left out
    (book / "data" / "temps.csv").write_text(
        (book / "data" / "temps.csv").read_text().replace("Fri,6,14", "Fri,6,16"))
    again = build()
    assert again.returncode == 0 and "pages: 2 run" in again.stdout
    assert "(5, [9, 11, 8, 13, 16])" in (book / "site" / "index.html").read_text(encoding="utf-8")
