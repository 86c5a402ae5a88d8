"""A region's warnings are those its code caused, not a library's about its own lazy imports."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

from d2l_compiler.engine.run import warning_origin


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A folder that counts as installed code, holding a module that warns when imported and
    one that imports it lazily, the way torch.compile loads Inductor on its first call."""
    lib = tmp_path / "site"
    lib.mkdir()
    for name in ("noisy", "noisy_direct", "noisy_by_name"):
        (lib / f"{name}.py").write_text(
            f"import warnings\nwarnings.warn('{name} is deprecated', DeprecationWarning)\n")
    (lib / "lazy.py").write_text(
        "import warnings\n"
        "def first_call():\n    import noisy  # the library loading more of itself\n"
        "def deprecated_api():\n    warnings.warn('deprecated_api is deprecated', DeprecationWarning)\n")
    monkeypatch.setattr(warning_origin, "_LIBRARY_DIRS", (str(lib) + "/",))
    warning_origin._is_library.cache_clear()
    monkeypatch.syspath_prepend(str(lib))
    yield lib
    warning_origin._is_library.cache_clear()
    for name in ("noisy", "noisy_direct", "noisy_by_name", "lazy"):
        sys.modules.pop(name, None)


def _messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught]


def test_a_library_loading_its_own_modules_is_not_the_region_s_warning(library):
    import lazy

    with warning_origin.region_warnings() as caught:
        lazy.first_call()   # lazy imports noisy: the library's business
        lazy.deprecated_api()  # the region called a deprecated function: its business
    assert _messages(caught) == ["deprecated_api is deprecated"]


def test_an_import_the_region_starts_keeps_its_warnings(library):
    with warning_origin.region_warnings() as caught:
        import noisy_direct  # noqa: F401
        importlib.import_module("noisy_by_name")
        warnings.warn("plain", UserWarning, stacklevel=1)
        warnings.warn("plain", UserWarning, stacklevel=1)  # every time: the caller keeps each once
    assert _messages(caught) == ["noisy_direct is deprecated", "noisy_by_name is deprecated",
                                 "plain", "plain"]


def test_outside_the_block_warnings_are_as_before(library):
    before = warnings.showwarning
    with warning_origin.region_warnings():
        pass
    assert warnings.showwarning is before
