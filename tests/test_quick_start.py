"""``python -m d2l_compiler new DIR``: the smallest book from an empty folder builds and shows
its outputs; a folder that holds anything is refused in one line (nothing is overwritten)."""

from __future__ import annotations

import os
import subprocess
import sys

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "D2L_DEVICE": "cpu"}


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "d2l_compiler", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=ENV)


def test_a_new_book_builds_and_shows_its_outputs(tmp_path):
    made = _cli("new", "my-book", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    book = tmp_path / "my-book"
    assert "python -m d2l_compiler build" in made.stdout
    built = _cli("build", cwd=book)
    assert built.returncode == 0, built.stderr
    html = (book / "site" / "index.html").read_text(encoding="utf-8")
    assert "numbers: [3, 1, 4, 1, 5]" in html and "the total is 14" in html
    assert "<code>14\n" in html  # the trailing expression's value, under its code
    assert (book / ".gitignore").read_text().split()[-3:] == [".d2l/", "site/", "docs/generated/"]
    status = subprocess.run(["git", "init", "-q"], cwd=book, capture_output=True)
    if status.returncode == 0:  # what the build wrote is ignored by the book's own .gitignore
        listed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                                cwd=book, capture_output=True, text=True).stdout.split("\n")
        assert sorted(line[3:] for line in listed if line) == [
            ".gitignore", "docs/index.md", "mkdocs.yml", "snippets/first.py"]
    checked = _cli("check", cwd=book)
    assert checked.returncode == 0 and "fresh  index.md" in checked.stdout


def test_new_never_overwrites(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.md").write_text("keep me")
    refused = _cli("new", "mine", cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "not an empty folder" in refused.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.md"]
    (tmp_path / "file").write_text("x")
    assert _cli("new", "file", cwd=tmp_path).returncode == 2


def test_a_book_named_like_a_yaml_value_still_loads(tmp_path):
    """``new 2024`` (or ``true``, ``null``): the title is quoted in mkdocs.yml."""
    for name in ("2024", "true", "null"):
        assert _cli("new", name, cwd=tmp_path).returncode == 0
        built = _cli("build", cwd=tmp_path / name)
        assert built.returncode == 0, built.stderr
        assert f"<title>{name}</title>" in (tmp_path / name / "site" / "index.html").read_text()
