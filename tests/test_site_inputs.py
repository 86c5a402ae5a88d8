"""A build that changes nothing leaves the site as it is; every kind of input the host reads
makes the next build build it again (see d2l_compiler.engine.publish.site_inputs).

Each test builds a tiny real book twice or more with the real CLI and MkDocs."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

UNCHANGED = "(unchanged: nothing it is built from changed)"


def _skipped(result) -> bool:
    assert result.code == 0, result.stderr
    return UNCHANGED in result.stdout


@pytest.fixture
def book(site):
    site.write("docs/index.md", """\
        # 首页

        第一句。

        ```python
        --8<-- "snippets/a.py:show"
        ```
        """)
    site.write("snippets/a.py", """\
        # --8<-- [start:show]
        x = 1
        # --8<-- [end:show]
        """)
    assert not _skipped(site.build())
    assert _skipped(site.build())  # the class's baseline: nothing changed, nothing built
    return site


def test_a_no_op_build_leaves_the_published_files_alone(book):
    index = book.root / "site" / "index.html"
    before = (index.stat().st_mtime_ns, index.stat().st_ino)
    assert _skipped(book.build())
    assert (index.stat().st_mtime_ns, index.stat().st_ino) == before


def test_prose_edit_is_built_and_searchable(book):
    config = book.root / "mkdocs.yml"
    config.write_text(config.read_text() + "  - search\n")
    assert not _skipped(book.build())
    assert _skipped(book.build())
    page = book.root / "docs" / "index.md"
    page.write_text(page.read_text().replace("第一句", "换了一句独特的话 zebrafinch"))
    result = book.build()
    assert not _skipped(result)
    assert "site: building it again (docs/" in result.stdout
    assert "zebrafinch" in book.html()
    assert "zebrafinch" in (book.root / "site" / "search" / "search_index.json").read_text()
    assert _skipped(book.build())


def test_a_page_added_to_the_docs_is_built(book):
    book.write("docs/new.md", "# 新页\n\nnewpageword\n")
    assert not _skipped(book.build())
    assert "newpageword" in (book.root / "site" / "new" / "index.html").read_text()


def test_a_shown_region_edited_is_built(book):
    book.write("snippets/a.py", """\
        # --8<-- [start:show]
        x = 42  # shownedit
        # --8<-- [end:show]
        """)
    assert not _skipped(book.build())
    assert "shownedit" in book.html()


def test_a_template_override_added_beside_an_unread_file_is_built(site):
    """A theme override the build probes for without opening (no event): a new file in a
    folder the build read from, or a folder below it."""
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text() + "theme:\n  name: mkdocs\n  custom_dir: overrides\n")
    site.write("overrides/partials/unused.txt", "not a template\n")
    site.write("overrides/extra.css", "p { color: black; }\n")  # copied: read
    site.write("docs/index.md", "# 首页\n")
    assert not _skipped(site.build())
    assert _skipped(site.build())
    site.write("overrides/main.html", "{% extends 'base.html' %}{% block footer %}"
                                      "<p>overridefooter</p>{% endblock %}\n")
    assert not _skipped(site.build())
    assert "overridefooter" in site.html()


def test_an_environment_variable_the_config_reads_is_an_input(site):
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text().replace(
        "site_name: fixture", "site_name: fixture\nsite_description: !ENV [BOOK_TAGLINE, none]"))
    site.write("docs/index.md", "# 首页\n")
    assert not _skipped(site.build(env={"BOOK_TAGLINE": "first"}))
    assert _skipped(site.build(env={"BOOK_TAGLINE": "first"}))
    assert not _skipped(site.build(env={"BOOK_TAGLINE": "secondtagline"}))
    assert "secondtagline" in site.html()


def test_a_site_changed_by_hand_is_built_again(book):
    (book.root / "site" / "index.html").write_text("defaced")
    assert not _skipped(book.build())
    assert "第一句" in book.html()
    (book.root / "site" / "sitemap.xml").unlink()
    assert not _skipped(book.build())
    assert (book.root / "site" / "sitemap.xml").is_file()


def test_force_builds_the_site(book):
    assert not _skipped(book.build("--force"))


def _hooked(site, body: str) -> None:
    """A MkDocs hook (a plugin in one file) doing ``body`` while pages render."""
    site.write("hook.py", "import os, subprocess\n\n\ndef on_page_markdown(markdown, **_):\n"
               + textwrap.indent(textwrap.dedent(body), "    ") + "\n")
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text() + "hooks:\n  - hook.py\n")
    site.write("docs/index.md", "# 首页\n")


def test_a_file_a_plugin_reads_is_an_input(site):
    """Inside the project by content, outside it by what an edit changes."""
    outside = site.root.parent / "outside.txt"
    outside.write_text("one")
    _hooked(site, f"""\
        with open("data.txt") as f, open({str(outside)!r}) as g:
            return markdown + f.read() + g.read()
        """)
    site.write("data.txt", "datafirst")
    assert not _skipped(site.build())
    assert _skipped(site.build())
    site.write("data.txt", "datasecond")
    assert not _skipped(site.build())
    assert "datasecond" in site.html()
    outside.write_text("outsideedit")
    assert not _skipped(site.build())
    assert "outsideedit" in site.html()


def test_a_build_that_starts_a_process_is_never_skipped(site):
    _hooked(site, """\
        out = subprocess.run(["cat", "data.txt"], capture_output=True, text=True).stdout
        return markdown + out
        """)
    site.write("data.txt", "catfirst")
    assert not _skipped(site.build())
    result = site.build()
    assert not _skipped(result)
    assert "subprocess.Popen cat data.txt" in result.stdout


def test_read_only_git_queries_are_asked_again(site):
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=site.root, check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})

    _hooked(site, """\
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True)
        return markdown + "commit " + head.stdout
        """)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    assert not _skipped(site.build())
    assert _skipped(site.build())
    git("commit", "-q", "--allow-empty", "-m", "two")
    result = site.build()
    assert not _skipped(result)
    assert "git rev-parse HEAD` answers differently" in result.stdout
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=site.root, capture_output=True,
                          text=True).stdout.strip()
    assert head in site.html()


def test_a_build_that_rewrites_what_it_read_is_never_skipped(site):
    _hooked(site, """\
        with open("data.txt") as f:
            seen = f.read()
        with open("data.txt", "w") as f:
            f.write(seen + "+")
        return markdown + seen
        """)
    site.write("data.txt", "count")
    assert not _skipped(site.build())
    result = site.build()
    assert not _skipped(result)
    assert "rewrote data.txt" in result.stdout


def test_a_docstring_edit_shows_on_the_api_page(site):
    """mkdocstrings reads the module (griffe) and asks git about it: both are inputs."""
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text() + "  - mkdocstrings:\n      handlers:\n        python:\n"
                      "          paths: [.]\n")
    site.write("docs/index.md", "# API\n\n::: helperlib\n")
    site.write("helperlib.py", '''\
        """Helpers."""


        def scale(x: float) -> float:
            """Return twice firstdoc."""
            return 2 * x
        ''')
    assert not _skipped(site.build())
    assert _skipped(site.build())
    source = site.root / "helperlib.py"
    source.write_text(source.read_text().replace("firstdoc", "seconddoc"))
    assert not _skipped(site.build())
    assert "seconddoc" in site.html() and "firstdoc" not in site.html()
