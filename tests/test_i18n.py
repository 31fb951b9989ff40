"""Korean and English: the Korean catalogue covers every string of the interface, and pages switch."""
import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "registry/translations/ko/LC_MESSAGES/messages.po"


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def test_korean_catalogue_is_complete(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-c", "import sys; from babel.messages.frontend import main; sys.exit(main())",
                    "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "N_", "-o", str(pot), str(ROOT)],
                   check=True, cwd=ROOT)
    wanted = {m.id for m in _catalog(pot) if m.id}
    korean = _catalog(PO)
    missing = sorted(m for m in wanted if not (korean.get(m) and korean.get(m).string))
    fuzzy = sorted(m.id for m in korean if m.id and m.fuzzy)
    assert not missing, f"{len(missing)} string(s) without Korean: {missing[:10]}"
    assert not fuzzy, f"fuzzy translations: {fuzzy[:10]}"


def test_compiled_catalogue_is_current():
    import io

    compiled = io.BytesIO()
    write_mo(compiled, _catalog(PO))
    assert (PO.with_suffix(".mo")).read_bytes() == compiled.getvalue(), \
        "run: pybabel compile -d registry/translations"


def test_pages_switch_language(client):
    english = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in english and "Log in" in english
    korean = client.get("/login", headers={"Accept-Language": "ko"}).get_data(as_text=True)
    assert '<html lang="ko">' in korean and "로그인" in korean
    client.post("/locale/en", data={"next": "/login"})
    assert "Log in" in client.get("/login", headers={"Accept-Language": "ko"}).get_data(as_text=True)
