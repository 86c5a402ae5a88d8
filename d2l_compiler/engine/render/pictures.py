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


_SVG = "{http://www.w3.org/2000/svg}"
# what a picture file may hold: SVG's drawing elements (matplotlib writes these), nothing that
# runs, links, animates, embeds a document or reaches outside; and its metadata (RDF, Dublin
# Core, Creative Commons: inert words)
_DRAWING = frozenset(
    "svg g defs desc title metadata style path rect circle ellipse line polyline polygon text "
    "tspan clipPath mask pattern linearGradient radialGradient stop use image symbol marker".split())
_METADATA = ("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}", "{http://purl.org/dc/elements/1.1/}",
             "{http://creativecommons.org/ns#}")
_XML_DECLARATION = re.compile(r"\A\s*<\?xml[^?]*\?>")
_LOCAL_URL = re.compile(r"url\(\s*['\"]?#[\w.-]+['\"]?\s*\)", re.IGNORECASE)


def _inert_text(text: str) -> bool:
    """Whether an attribute's value or a style's text (entities already decoded) reaches
    nothing: no CSS escape, no at-rule, no ``url()`` but to an element of the picture."""
    return "\\" not in text and "@" not in text and "url(" not in _LOCAL_URL.sub("", text.lower())


def _inert_svg(text: str) -> bool:
    """Whether an SVG is only a picture, by an allow-list: SVG drawing elements and their
    metadata, no processing instruction or entity, no event handler, links only to its own
    elements or to inline PNG/JPEG images, styles that reach nothing. Such an SVG may be
    served as a file of the site: opened by itself, there is nothing in it to run or fetch."""
    body = _XML_DECLARATION.sub("", text, count=1)
    if "<?" in body or "<!ENTITY" in body:
        return False
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return False
    metadata: set[ElementTree.Element] = set()
    for element in root.iter():
        if element.tag.endswith("}metadata"):
            metadata.update(element.iter())
    for element in root.iter():
        namespace, _, name = element.tag.rpartition("}")
        inside = element in metadata and (namespace + "}").startswith(_METADATA)
        if not (namespace + "}" == _SVG and name in _DRAWING) and not inside:
            return False
        if name == "style" and not _inert_text(element.text or ""):
            return False
        for attribute, value in element.attrib.items():
            local = attribute.rpartition("}")[2].lower()
            if local.startswith("on"):
                return False
            if local == "href":
                if not (value.startswith("#") or value.startswith(("data:image/png;",
                                                                    "data:image/jpeg;"))):
                    return False
            elif not _inert_text(value) and not (inside and local == "resource"):
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
