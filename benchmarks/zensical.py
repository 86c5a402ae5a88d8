"""What a reader gets when the book is built with Zensical instead of MkDocs 1.x (``nox -s zensical``).

Zensical reads ``mkdocs.yml`` but runs no MkDocs plugins; the engine builds the site there
with ``python -m d2l_compiler build --host zensical`` (see
:mod:`d2l_compiler.engine.publish.zensical_host`). This module builds the book that way into
a folder of its own (never the author's ``site/``), then measures the result page by page:
executed outputs shown, ``{{ d2l:... }}`` tokens and ``<!-- d2l: -->`` marks left, stamps, the
published record and notebook, the API page, and whether the search finds Chinese words (in
a real Chromium, when one is installed). The same report writes the README's paragraph on
Zensical (``--readme``), and ``tests/test_zensical.py`` checks both against a build of the
current commit.

Usage: ``python -m benchmarks.zensical [BOOK_DIR] [--readme]``.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path

from benchmarks.common import ROOT, write_report

SITE = Path(".d2l") / "zensical" / "site"  # the book's Zensical build, beside its state
README_BEGIN = "<!-- zensical-report: begin (written by python -m benchmarks.zensical --readme) -->"
README_END = "<!-- zensical-report: end -->"
# Chinese words the search must find: two headings and two words found only inside sentences
# (which a search that does not segment Chinese misses)
QUERIES = ("序列化", "符号式编程", "磁盘", "调试")
CHROMIUM = os.environ.get("D2L_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageReport:
    """One page of the book as Zensical published it."""

    built: bool
    outputs_shown: int  # executed outputs whose first line appears in the page
    outputs_expected: int
    tokens_left: int  # ``{{ d2l:`` tokens not rendered
    marks_left: int  # ``<!-- d2l: -->`` marks published


@dataclass
class ZensicalReport:
    """The whole measurement (written as JSON under ``.d2l/bench/``)."""

    zensical: str
    exit_code: int
    seconds: float  # the engine's build with nothing to run, plus Zensical's site build
    error: str
    pages: dict[str, PageReport] = field(default_factory=dict)
    stamps: int = 0  # pages carrying the provenance stamp
    record_published: bool = False  # d2l-record.json is the build's record, byte for byte
    notebooks: list[str] = field(default_factory=list)  # .ipynb files the pages link to
    notebooks_ok: bool = False  # each linked notebook is published and is valid JSON
    api_objects: int = 0  # documented objects on the API page (mkdocstrings)
    search_index: bool = False
    chinese_search: dict[str, bool] | None = None  # query -> found the page; None: no browser

    @property
    def outputs(self) -> tuple[int, int]:
        """Executed outputs shown, of those expected, over all pages."""
        return (sum(p.outputs_shown for p in self.pages.values()),
                sum(p.outputs_expected for p in self.pages.values()))


def build(book: Path, site: Path) -> tuple[int, float, str]:
    """``build --host zensical`` of ``book`` into ``site``: (exit code, seconds, error text)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "d2l_compiler", "build", "--host", "zensical",
                           "--site-dir", str(site)], cwd=book, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    return proc.returncode, time.perf_counter() - start, proc.stderr.strip()[-2000:]


def _page_dir(site: Path, page: str) -> Path:
    """The folder of a page's ``index.html`` (MkDocs' and Zensical's directory URLs)."""
    stem = Path(page).with_suffix("")
    return site / (stem.parent if stem.name == "index" else stem)


def _html_of(site: Path, page: str) -> str:
    html_file = _page_dir(site, page) / "index.html"
    return html_file.read_text(encoding="utf-8") if html_file.is_file() else ""


def measure(book: Path, site: Path, exit_code: int = 0, seconds: float = 0.0,
            error: str = "") -> ZensicalReport:
    """What the Zensical site at ``site`` shows of ``book``'s record."""
    record_file = book / ".d2l" / "record.json"
    record = json.loads(record_file.read_text(encoding="utf-8"))
    report = ZensicalReport(version("zensical"), exit_code, round(seconds, 2), error)
    if exit_code != 0:
        return report
    linked: set[str] = set()
    for name, entry in sorted(record["pages"].items()):
        html = _html_of(site, name)
        executed = [r["run"] for r in entry["regions"] if r["executed"] and r["run"]["stdout"]]
        shown = sum(_escaped(r["stdout"].strip().split("\n")[0][:40]) in html for r in executed)
        report.pages[name] = PageReport(bool(html), shown, len(executed), html.count("{{ d2l:"),
                                        len(re.findall(r"<!--\s*d2l:", html)))
        report.stamps += "d2l-stamp" in html
        linked |= {os.path.normpath(_page_dir(site, name) / href) for href in
                   re.findall(r'href="([^"#?]+\.ipynb)"', html)}
    published = site / "d2l-record.json"
    report.record_published = published.is_file() and _digest(published) == _digest(record_file)
    report.notebooks = sorted(os.path.relpath(p, site) for p in linked)
    report.notebooks_ok = bool(linked) and all(_is_notebook(Path(p)) for p in linked)
    report.api_objects = len(re.findall(r'class="doc doc-object[ "]', _html_of(site, "api.md")))
    report.search_index = (site / "search.json").is_file()
    report.chinese_search = search_finds(site, QUERIES)
    return report


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_notebook(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("cells"))
    except (OSError, ValueError, AttributeError):
        return False


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


# Zensical draws its search in the shadow root of an element it appends to <body>
_RESULT_SHOWN = """query => [...document.body.children].some(host => host.shadowRoot &&
    [...host.shadowRoot.querySelectorAll("a[href]")].some(a => a.textContent.includes(query)))"""


def search_finds(site: Path, queries: tuple[str, ...]) -> dict[str, bool] | None:
    """Whether the site's own search, typed into in Chromium, lists a result for each query;
    None when Playwright or Chromium is missing (then nothing was measured)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if CHROMIUM is None:
        return None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base, found = f"http://127.0.0.1:{httpd.server_address[1]}/", {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--disable-background-networking", "--disable-component-update", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for query in queries:
                page.goto(base, wait_until="networkidle")
                page.locator(".md-search__button").first.click(force=True)
                box = page.locator("input[role=combobox]").first  # in the search's shadow root
                box.fill(query)
                try:  # a result (a link inside the search's own shadow root) shows the word
                    page.wait_for_function(_RESULT_SHOWN, arg=query, timeout=5000)
                    found[query] = True
                except Exception:  # noqa: BLE001 - Playwright's timeout: nothing was listed
                    found[query] = False
            browser.close()
    finally:
        httpd.shutdown()
    return found


def readme_section(report: ZensicalReport) -> str:
    """The README's paragraph on what works under Zensical, from ``report``."""
    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    shown, expected = report.outputs
    tokens = sum(p.tokens_left for p in report.pages.values())
    marks = sum(p.marks_left for p in report.pages.values())
    if report.chinese_search is None:
        search = "not measured (no Chromium)"
    else:
        hits = [q for q, ok in report.chinese_search.items() if ok]
        search = (f"{yes(len(hits) == len(report.chinese_search))}: finds "
                  f"{len(hits)} of {', '.join(report.chinese_search)}")
    rows = [
        ("site build (`build --host zensical`)", yes(report.exit_code == 0)),
        ("executed outputs shown", f"{shown} of {expected}"),
        ("`{{ d2l: }}` tokens left unrendered", str(tokens)),
        ("`<!-- d2l: -->` marks published", str(marks)),
        ("provenance stamp", f"{report.stamps} page(s)"),
        ("`d2l-record.json` published, identical to the record", yes(report.record_published)),
        ("notebook download", f"{yes(report.notebooks_ok)} ({', '.join(report.notebooks) or 'none'})"),
        ("API page (mkdocstrings, run by Zensical itself)", f"{report.api_objects} objects"),
        ("Chinese search (typed into the site in Chromium)", search),
    ]
    table = ["| | Zensical " + report.zensical + " |", "|---|---|",
             *[f"| {what} | {value} |" for what, value in rows]]
    return "\n".join([README_BEGIN, *table, README_END])


def write_readme(readme: Path, section: str) -> None:
    """Replace the generated section of ``readme`` with ``section``."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_BEGIN), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + section + text[end:], encoding="utf-8")


def tree_digest(folder: Path) -> str:
    """One digest of every file under ``folder`` (names and contents); '' if it is missing."""
    if not folder.is_dir():
        return ""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main() -> int:
    """Build, measure, print, write the JSON report (and the README section with ``--readme``)."""
    args = [a for a in sys.argv[1:] if a != "--readme"]
    book = Path(args[0]).resolve() if args else ROOT
    site = book / SITE
    before = tree_digest(book / "site")
    exit_code, seconds, error = build(book, site)
    report = measure(book, site, exit_code, seconds, error)
    untouched = tree_digest(book / "site") == before
    print(error if exit_code else f"zensical {report.zensical}: built in {seconds:.2f} s into {site}")
    section = readme_section(report)
    print(section.split("\n", 1)[1].rsplit("\n", 1)[0])
    print(f"site/ untouched: {untouched}")
    print(f"report: {write_report('zensical', {**asdict(report), 'site_untouched': untouched})}")
    if "--readme" in sys.argv and exit_code == 0:
        write_readme(book / "README.md", section)
        print("README.md: section written from this measurement")
    return exit_code or (0 if untouched else 1)


if __name__ == "__main__":
    sys.exit(main())
