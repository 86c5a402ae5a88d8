"""The pictures a site shows, as files named by their content.

The record keeps each picture a region showed (it is what travels between machines, shards
and builds); the site serves each one once, as ``<docs>/generated/pictures/<digest>.svg`` (or
``.png``), written with the page's notebook and removed with it (see
:func:`d2l_compiler.engine.publish.generated.picture_files`). A page links to the file, so
its HTML stays small, a picture shown on several pages or by several builds is one file, and
a browser caches it. Only an inert SVG becomes a file (one opened by itself would run on the
site's origin); any other stays in its page as an image whose source is itself, and an image
is never a document: nothing in it runs.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from d2l_compiler.engine.record.model import Display
from d2l_compiler.engine.sources.project import GENERATED_DIR

FOLDER = f"{GENERATED_DIR}/pictures"  # docs-relative
_SUFFIX = {"image/svg+xml": ".svg", "image/png": ".png"}


# what may make an SVG more than a picture when it is opened by itself, on the site's origin
_ACTIVE_ELEMENTS = frozenset({"script", "foreignobject", "iframe", "object", "embed", "a",
                              "animate", "set", "animatemotion", "animatetransform", "handler",
                              "listener", "audio", "video"})
_INNER_URL = re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE)


def _inert_svg(text: str) -> bool:
    """Whether an SVG is only a picture: no script, event handler, link, animation, embedded
    document, entity, or reference to anything but itself and inline images (as matplotlib
    writes them). Such an SVG may be served as a file of the site: opened by itself, there is
    nothing in it to run."""
    if "<!ENTITY" in text or _INNER_URL.search(text) or "@import" in text:
        return False
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return False
    for element in root.iter():
        if element.tag.rpartition("}")[2].lower() in _ACTIVE_ELEMENTS:
            return False
        for name, value in element.attrib.items():
            local = name.rpartition("}")[2].lower()
            if local.startswith("on"):
                return False
            if local == "href" and not (value.startswith("#") or value.startswith("data:image/")):
                return False
    return True


def served_as_file(picture: Display) -> bool:
    """Whether the site serves the picture as a file: a PNG, or an inert SVG (any other SVG
    stays in its page, as an image whose source is itself: never a document)."""
    if picture.mime == "image/png":
        return True
    return picture.mime == "image/svg+xml" and _inert_svg(picture.data)


def picture_bytes(picture: Display) -> bytes:
    """The picture's file content (``ValueError`` if a PNG's base64 is not base64)."""
    if picture.mime == "image/png":
        return base64.b64decode(picture.data, validate=True)
    return picture.data.encode("utf-8")


def picture_path(picture: Display) -> str:
    """The docs-relative path of the picture's file: named by a digest of its content."""
    digest = hashlib.sha256(picture_bytes(picture)).hexdigest()[:24]
    return f"{FOLDER}/{digest}{_SUFFIX[picture.mime]}"


def picture_link(picture: Display, page: str) -> str:
    """The picture's path as the page ``page`` (docs-relative) links to it."""
    return posixpath.relpath(picture_path(picture), posixpath.dirname(page) or ".")


def made_by_engine(path: Path) -> bool:
    """Whether ``path`` is a picture file as the engine names them (its name is the digest
    of its content): how they are recognized when the list of the engine's files is lost."""
    try:
        return (path.suffix in _SUFFIX.values() and path.is_file() and not path.is_symlink()
                and hashlib.sha256(path.read_bytes()).hexdigest()[:24] == path.stem)
    except OSError:
        return False
