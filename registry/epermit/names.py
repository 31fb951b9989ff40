"""Namespaces, code values and element names of the CITESEPermit v2 message (docs/epermit.md)."""

from __future__ import annotations

RSM = "urn:un:unece:uncefact:data:standard:CITESEPermit:2"
RAM = "urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1"
DS = "http://www.w3.org/2000/09/xmldsig#"
NSMAP = {"rsm": RSM, "ram": RAM}

#: Box 1's tick boxes: EXPORT / RE-EXPORT / IMPORT / OTHER (HeaderExchangedDocument/TypeCode).
TYPE_CODES = {
    "import": "I",
    "export": "E",
    "reexport": "R",
    "origin": "O",
    "captive_breeding": "O",
    "pre_convention": "O",
}
#: The document's title, in HeaderExchangedDocument/Name: what tells the certificates under "O" apart.
TITLES = {
    "import": "Import permit",
    "export": "Export permit",
    "reexport": "Re-export certificate",
    "origin": "Certificate of origin",
    "captive_breeding": "Captive-breeding certificate",
    "pre_convention": "Pre-Convention certificate",
}
DOC_TYPE_BY_TITLE = {title.casefold(): doc_type for doc_type, title in TITLES.items()}

#: UN/EDIFACT 1001 document name codes, as EPIX reads them in AssociatedReferencedDocument.
EXPORT_LICENCE = "811"
CERTIFICATE_OF_ORIGIN = "861"
IMPORT_LICENCE = "911"
#: The attributes EPIX's sample gives the code list of a document TypeCode.
DOCUMENT_CODE_LIST = {"listID": "1001", "listAgencyID": "6"}

#: Signatories (HeaderExchangedDocument/...SignatoryDocumentAuthentication/TypeCode).
FIRST_SIGNATORY = "A"  # the Management Authority (box 6), with the security stamp (box 5b)
THIRD_SIGNATORY = "C"  # "issued by" (box 13)

BUSINESS_PROCESS = "CITES Permitting"
#: Consignment item IDs: A, B, ... Z, then AA, AB, ... (the paper form's blocks are lettered).
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def item_id(line_no: int) -> str:
    """The block letter of line *line_no* (1 -> A, 27 -> AA)."""
    text, n = "", line_no
    while n > 0:
        n, rest = divmod(n - 1, 26)
        text = LETTERS[rest] + text
    return text


def rsm(name: str) -> str:
    return f"{{{RSM}}}{name}"


def ram(name: str) -> str:
    return f"{{{RAM}}}{name}"
