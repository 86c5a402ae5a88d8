"""The site as a reader meets it, in a real Chromium: loads cleanly, shows code and outputs,
links resolve, search finds Chinese terms, diagrams render, nothing is fetched from outside."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

CHROMIUM = os.environ.get("D2L_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no Chromium found (apt-get install chromium, or set D2L_CHROMIUM): "
                "browser tests NOT run", allow_module_level=True)

PAGES = ["", "compilers/", "generated/compilers/", "report/", "api/"]
ARTIFACTS = Path(__file__).resolve().parents[1] / ".d2l" / "artifacts"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(chapter):
    handler = functools.partial(_Quiet, directory=str(chapter / "site"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # no background networking: this machine's closed network refuses it noisily
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        yield launched
        launched.close()


class Visit:
    """A page load that remembers console errors and failed or external requests."""

    def __init__(self, browser, base: str, path: str) -> None:
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.external: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        self.page.on("request", lambda r: urlparse(r.url).hostname not in (None, "127.0.0.1")
                     and r.url.startswith("http") and self.external.append(r.url))
        self.page.goto(urljoin(base, path), wait_until="networkidle")


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly_and_offline(browser, server, path):
    visit = Visit(browser, server, path)
    assert visit.errors == [] and visit.failed == [] and visit.external == []
    visit.page.close()


def test_chapter_shows_code_copy_buttons_outputs_table_and_chart(browser, server):
    visit = Visit(browser, server, "compilers/")
    page = visit.page
    code_blocks = page.locator("article div.highlight:not(.d2l-output)")
    assert code_blocks.count() >= 14
    copy = page.locator("article button[data-md-type='copy']")
    assert copy.count() >= code_blocks.count()
    outputs = page.locator("article .d2l-output")
    assert outputs.first.is_visible()
    assert page.locator("article .d2l-output code", has_text="10").first.is_visible()
    table = page.locator("article table", has_text="torch.compile").first
    table.scroll_into_view_if_needed()
    assert table.is_visible()
    chart = page.locator("article img[src*='paths-']")
    chart.scroll_into_view_if_needed()
    assert chart.is_visible() and chart.evaluate("img => img.naturalWidth") > 100
    # Material draws Mermaid into a closed shadow root: check that something was drawn
    diagram = page.locator("article div.mermaid").first
    diagram.scroll_into_view_if_needed()
    page.wait_for_function("el => el.getBoundingClientRect().height > 100",
                           arg=diagram.element_handle(), timeout=15_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chapter.png"), full_page=False)
    assert visit.errors == [] and visit.failed == []
    page.close()


def test_internal_links_resolve(browser, server):
    seen: set[str] = set()
    context = browser.new_context()
    for path in PAGES:
        visit = Visit(browser, server, path)
        hrefs = visit.page.eval_on_selector_all("a[href], img[src]", "els => els.map(e => e.href || e.src)")
        visit.page.close()
        for href in hrefs:
            url = href.split("#")[0]
            if url.startswith(server) and url not in seen:
                seen.add(url)
                response = context.request.get(url)
                assert response.ok, f"{url} (linked from /{path}) answered {response.status}"
    context.close()
    assert len(seen) >= len(PAGES) + 2  # the pages, the record download, the chart...


@pytest.mark.parametrize("query", ["序列化", "符号式编程", "命令式编程"])
def test_chinese_search_finds_the_chapter(browser, server, query):
    visit = Visit(browser, server, "")
    page = visit.page
    box = page.locator("input.md-search__input")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box.fill(query)
    box.press("End")  # Material reads the query on keyup
    result = page.locator(".md-search-result__item", has_text="编译器和解释器").first
    result.wait_for(state="visible", timeout=10_000)
    assert page.locator(".md-search-result__meta").first.inner_text().strip() != "没有找到符合条件的结果"
    assert visit.errors == []
    page.close()


def test_api_page_documents_the_helpers(browser, server):
    visit = Visit(browser, server, "api/")
    text = visit.page.locator("article").inner_text()
    for name in ("Timer", "Benchmark", "device", "get_net", "save_module", "compare_paths", "build"):
        assert name in text
    assert "D2L_DEVICE" in text  # a docstring, rendered
    visit.page.close()


@pytest.mark.parametrize("path", ["index.html", "compilers/index.html"])
def test_site_works_from_file_url(browser, chapter, path):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((chapter / "site" / path).as_uri(), wait_until="load")
    assert page.locator("article h1").first.is_visible()
    page.wait_for_timeout(500)  # let deferred scripts (Mermaid, search) run
    assert errors == []
    page.close()
