"""The benchmarks' own arithmetic (the measurements themselves run in `nox -s bench`)."""

from __future__ import annotations

from benchmarks.timing_agreement import flips


def test_a_flip_is_a_build_that_disagrees_with_the_majority():
    assert flips(["faster"] * 5) == 0
    assert flips(["faster", "within noise", "faster", "faster", "slower"]) == 2
    assert flips(["within noise", "faster"]) == 1


def test_every_edit_of_the_edit_loop_benchmark_still_applies():
    """The benchmark edits the real chapter: each text it replaces must still be there, once
    per file at least, and a printed marker is looked for as an output line, not as code."""
    from benchmarks.common import ROOT
    from benchmarks.edit_loop import edits

    found = edits("t")
    assert {e.name for e in found} >= {"prose", "fancy_func", "net", "compile_paths", "save",
                                      "helper module"}
    for edit in found:
        assert edit.old in (ROOT / edit.file).read_text(encoding="utf-8"), edit.name
        assert edit.marker in edit.new and edit.marker not in edit.old
        assert edit.shown == (f"\n{edit.marker}\n" if edit.printed else edit.marker)


def test_the_synthetic_book_has_the_spread_and_the_exclusive_pages_it_claims(tmp_path):
    from pathlib import Path

    from benchmarks.book_scale import EXCLUSIVE_PAGES, write_book
    from d2l_compiler.engine.sources.discover import discover
    from d2l_compiler.engine.sources.project import Project
    from d2l_compiler.engine.sources.resources import page_resources

    intended = write_book(tmp_path / "book", 200)
    project = Project(Path(tmp_path / "book" / "mkdocs.yml"))
    pages = discover(project)
    assert len(pages) == 200
    exclusive = [p for p, incs in pages.items() if page_resources(project.root, incs).exclusive]
    assert len(exclusive) == EXCLUSIVE_PAGES  # the timing pages, inferred from their code
    seconds = sorted(intended.values())
    assert seconds[-1] > 5 * seconds[len(seconds) // 2]  # a long tail, as real books have
