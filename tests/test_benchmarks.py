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
