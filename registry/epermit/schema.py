"""The e-permit XML Schema kept in the repository, and a parser that is safe on a stranger's XML.

The parser resolves no entities, reads nothing from the network and refuses huge trees, so a
partner's document cannot make the registry read a local file (XXE), fetch a URL or expand a
"billion laughs". Errors come back with their line numbers, for the partner to fix.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "data" / "epermit"
SCHEMA_FILE = SCHEMA_DIR / "CITESEPermit-2.xsd"
#: A permit of a few hundred lines is a few hundred kilobytes; anything far larger is refused unread.
MAX_BYTES = 2 * 1024 * 1024
#: One validation at a time: a schema's error log belongs to the object, not to the call.
_LOCK = threading.Lock()


class InvalidDocument(ValueError):
    """The XML is malformed, not a CITESEPermit, or fails the schema; ``reasons`` says why."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=False,
    )


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    # The schema files are ours; the hardened parser is used for them too, and the RAM file is
    # found next to the root schema through its schemaLocation.
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE), parser()))


def parse(data: bytes) -> etree._ElementTree:
    """Parse *data*, refusing a DTD (entities are how XXE and expansion attacks start)."""
    if len(data) > MAX_BYTES:
        raise InvalidDocument([f"the document is larger than {MAX_BYTES} bytes"])
    try:
        tree = etree.ElementTree(etree.fromstring(data, parser()))
    except etree.XMLSyntaxError as exc:
        raise InvalidDocument([f"XML syntax, line {exc.lineno}: {exc.msg}"]) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise InvalidDocument(["a document type declaration (DTD) is not accepted"])
    return tree


def validate(tree: etree._ElementTree) -> None:
    """Raise InvalidDocument with each schema error and its line, when *tree* fails the schema."""
    checker = schema()
    with _LOCK:
        if checker.validate(tree):
            return
        reasons = [f"schema, line {e.line}: {e.message}" for e in checker.error_log]
    raise InvalidDocument(reasons)
