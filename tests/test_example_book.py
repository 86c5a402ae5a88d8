"""The second book in examples/: the engine used through the installed package and
``plugins: - d2l`` alone, with its own code folder, its own pages, and no torch."""

from __future__ import annotations

import shutil

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
