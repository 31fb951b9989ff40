"""Korean and English: the Korean catalogue covers every string of the interface, and pages switch."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "registry/translations/ko/LC_MESSAGES/messages.po"


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def test_korean_catalogue_is_complete(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from babel.messages.frontend import main; sys.exit(main())",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "N_",
            "-o",
            str(pot),
            str(ROOT),
        ],
        check=True,
        cwd=ROOT,
    )
    wanted = {m.id for m in _catalog(pot) if m.id}
    korean = _catalog(PO)
    missing = sorted(m for m in wanted if not (korean.get(m) and korean.get(m).string))
    fuzzy = sorted(m.id for m in korean if m.id and m.fuzzy)
    assert not missing, f"{len(missing)} string(s) without Korean: {missing[:10]}"
    assert not fuzzy, f"fuzzy translations: {fuzzy[:10]}"


def test_compiled_catalogue_is_current():
    """The shipped .mo holds exactly the .po's messages (ids, plurals, translations), whatever
    Babel version compiled it: the comparison is of messages, not of the file's bytes."""
    from babel.messages.mofile import read_mo

    with PO.with_suffix(".mo").open("rb") as f:
        shipped = read_mo(f)

    def messages(catalog):
        return {
            (m.id if isinstance(m.id, str) else tuple(m.id), m.context): (
                m.string if isinstance(m.string, str) else tuple(m.string)
            )
            for m in catalog
            if m.id and not m.fuzzy and m.string
        }

    assert messages(shipped) == messages(_catalog(PO)), "run: pybabel compile -d registry/translations"


def test_pages_switch_language(client):
    english = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Log in" in english
    korean = client.get("/login", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert '<html lang="ko">' in korean and "로그인" in korean
    client.post("/locale/en", data={"next": "/login"})
    assert "Log in" in client.get("/login", headers={"Accept-Language": "ko"}).get_data(as_text=True)


def test_translated_text_is_a_literal_with_named_placeholders():
    """``_(f"...")`` or ``_("..." % x)`` would be looked up already filled in, and never found."""
    import ast

    built = []
    for path in (ROOT / "registry").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("_", "_l", "N_", "gettext")
                and node.args
            ):
                text = node.args[0]
                if isinstance(text, (ast.JoinedStr, ast.BinOp)) or (
                    isinstance(text, ast.Call) and getattr(text.func, "attr", None) == "format"
                ):
                    built.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                elif isinstance(text, ast.Constant) and "%" in text.value and "%(" not in text.value.replace("%%", ""):
                    built.append(f"{path.relative_to(ROOT)}:{node.lineno} (positional placeholder)")
    assert not built, built


def test_each_translation_keeps_the_placeholders_of_its_english():
    import re

    named = re.compile(r"%\(\w+\)[sdr]")
    wrong = [
        m.id
        for m in _catalog(PO)
        if m.id and m.string and sorted(set(named.findall(m.id))) != sorted(set(named.findall(m.string)))
    ]
    assert not wrong, wrong
