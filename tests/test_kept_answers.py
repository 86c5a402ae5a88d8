"""What the site build keeps between builds by content (jieba's segmentations for Material's
search, Black's signature layouts for the API page) answers exactly what the library itself
would, and a change to any input of the answer (the text, a dictionary, the signature) is
answered afresh. Real MkDocs builds through the CLI, real jieba, real mkdocstrings."""

from __future__ import annotations

import json
import re
import types

import pytest

from d2l_compiler.engine.publish.kept_answers import KeptAnswers
from d2l_compiler.engine.publish.signature_formats import keep_signature_formats

jieba = pytest.importorskip("jieba")

UNCHANGED = "(unchanged: nothing it is built from changed)"

FIRST = "编译器把符号式程序整段交给框架去优化"
SECOND = "解释器逐行执行命令式代码并立即返回结果"


def _material_search(site, user_dictionary: str | None = None) -> None:
    config = site.root / "mkdocs.yml"
    text = config.read_text().replace("site_name: fixture\n",
                                      "site_name: fixture\ntheme:\n  name: material\n  language: zh\n")
    text += "  - search:\n      lang: zh\n"
    if user_dictionary is not None:
        text += f"      jieba_dict_user: {user_dictionary}\n"
    config.write_text(text)


def _indexed(site) -> str:
    index = json.loads((site.root / "site" / "search" / "search_index.json").read_text())
    return "\n".join(doc["text"] for doc in index["docs"])


def _jieba_says(sentence: str, user_dictionary=None) -> str:
    """What Material's search stores for a run of Han characters, from jieba itself in a fresh
    tokenizer (optionally with a user dictionary)."""
    tokenizer = jieba.Tokenizer()
    if user_dictionary is not None:
        tokenizer.load_userdict(str(user_dictionary))
    return "\u200b".join(tokenizer.cut(sentence))


def test_chinese_search_is_jiebas_own_after_a_kept_build_and_a_new_sentence(site):
    _material_search(site)
    site.write("docs/index.md", f"# 页\n\n{FIRST}。\n")
    assert site.build().code == 0
    assert _jieba_says(FIRST) in _indexed(site)
    kept = list((site.root / ".d2l" / "search-segments").glob("*.json"))
    assert kept and FIRST in kept[0].read_text()
    assert UNCHANGED in site.build().stdout  # what the build keeps is not what it is built from
    assert site.build("--force").code == 0  # the site built again: segments come from the file
    assert _jieba_says(FIRST) in _indexed(site)
    site.write("docs/index.md", f"# 页\n\n{SECOND}。\n")  # a sentence never segmented before
    assert site.build().code == 0
    indexed = _indexed(site)
    assert _jieba_says(SECOND) in indexed and FIRST not in indexed.replace("\u200b", "")
    assert FIRST not in kept[0].read_text()  # the file holds what the last build asked, no more
    assert UNCHANGED in site.build().stdout  # rewriting what it keeps leaves the next build be


def test_a_user_dictionary_edit_changes_the_segmentation(site):
    words = site.write("docs/terms.txt", "框架去\n")
    _material_search(site, "docs/terms.txt")
    site.write("docs/index.md", f"# 页\n\n{FIRST}。\n")
    assert site.build().code == 0
    assert _jieba_says(FIRST, words) in _indexed(site)
    words.write_text("符号式程序\n")  # the same file, new content: answered afresh
    assert site.build().code == 0
    indexed = _indexed(site)
    assert _jieba_says(FIRST, words) in indexed and "\u200b符号式程序\u200b" in indexed


def test_a_changed_signature_is_laid_out_afresh_on_the_api_page(site):
    config = site.root / "mkdocs.yml"
    config.write_text(config.read_text() + "  - mkdocstrings:\n      handlers:\n        python:\n"
                      "          paths: [.]\n          options:\n"
                      "            separate_signature: true\n            line_length: 40\n"
                      "            show_signature_annotations: true\n")
    site.write("docs/index.md", "# API\n\n::: helperlib\n")
    module = site.write("helperlib.py", '''\
        """Helpers."""


        def scale(value: float, factor: float = 2.0, offset: float = 0.0) -> float:
            """Scaled."""
            return value * factor + offset
        ''')
    assert site.build().code == 0
    first = _signature(site.html())
    assert re.search(r"factor[^\n]*\n[^\n]*offset", first)  # Black's layout: one per line
    assert list((site.root / ".d2l" / "signature-formats").glob("*.json"))
    assert UNCHANGED in site.build().stdout  # what the build keeps is not what it is built from
    module.write_text(module.read_text().replace("offset: float = 0.0", "shift: float = 0.0")
                      .replace("+ offset", "+ shift"))
    assert site.build().code == 0
    second = _signature(site.html())
    assert "shift" in second and "offset" not in second
    assert second == first.replace("offset", "shift")  # the same length: the same layout
    assert UNCHANGED in site.build().stdout  # rewriting what it keeps leaves the next build be


def _signature(html: str) -> str:
    found = re.search(r'<div class="doc-signature[^>]*>(.*?)</div>', html, re.S)
    assert found, "no separate signature on the API page"
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_formatter_is_asked_once_per_signature_across_builds(tmp_path):
    asked: list[str] = []

    def black_like(code: str, line_length: int) -> str:
        asked.append(code)
        return code.upper()

    rendering = types.SimpleNamespace(_get_formatter=lambda: black_like)
    for _ in range(2):  # two builds, each putting the stand-in in place (it replaces its own)
        answers = keep_signature_formats(rendering, tmp_path)
        assert rendering._get_formatter()("def f(x): pass", 88) == "DEF F(X): PASS"
        assert rendering._get_formatter()("def f(x): pass", 60) == "DEF F(X): PASS"
        answers.save()
    assert asked == ["def f(x): pass"] * 2  # once per line length, not once per build


def test_kept_answers_keep_what_the_last_build_asked_and_survive_a_torn_file(tmp_path):
    path = tmp_path / "answers.json"
    first = KeptAnswers(path)
    first.put("a", [1])
    first.put("b", [2])
    first.save()
    second = KeptAnswers(path)
    assert second.get("a") == [1] and second.get("missing") is None
    second.save()
    assert json.loads(path.read_text()) == {"a": [1]}  # b was not asked for: gone
    path.write_text('{"a": [1')  # cut short
    assert KeptAnswers(path).get("a") is None
