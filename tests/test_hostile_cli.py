"""Hostile files given to the commands that read one: an exit code and a line that says what is wrong,
never a traceback, and nothing written when the file is refused."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from registry.cli import import_species, verify_audit
from registry.models import Species
from tests import fuzzing, hostile
from tests.test_species import HEADER, _taxon

#: Damage done to a good checklist, each a function of its bytes, and whether the file is then refused.
DAMAGE = {
    "bytes that are not UTF-8": (lambda data: data[:40] + b"\xff\xfe" + data[40:], True),
    "a BOM": (lambda data: b"\xef\xbb\xbf" + data, False),
    "two BOMs": (lambda data: b"\xef\xbb\xbf" * 2 + data, True),
    "a NUL": (lambda data: data.replace(b"Furcifer", b"Fur\x00cifer", 1), True),
    "UTF-16": (lambda data: data.decode().encode("utf-16"), True),
    "an empty file": (lambda data: b"", True),
    "only the header": (lambda data: data.split(b"\n", 1)[0], None),
    "a row cut short": (lambda data: data.rstrip(b"\r\n").rsplit(b",", 3)[0] + b"\n", None),
    "a row too long": (lambda data: data.rstrip(b"\r\n") + b",extra,extra\r\n", None),
    "an unclosed quote": (lambda data: data + b'"' + b"x" * 100, None),
    "a field past the csv module's limit": (lambda data: data + b'"' + b"x" * 140_000 + b'"\r\n', True),
    "CR only line ends": (lambda data: data.replace(b"\r\n", b"\r"), None),
    "a formula for a name": (lambda data: data.replace(b"Furcifer pardalis", b"=cmd|' /C calc'!A0", 1), True),
}


def _good_checklist(names: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for i, name in enumerate(names):
        writer.writerow(dict.fromkeys(HEADER, "") | _taxon(i, name))
    return out.getvalue().encode()


def _clean_exit(result) -> None:
    """An exit code of its own and the reason in words: no exception escaped the command."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code:
        assert result.output.strip(), "refused without a word"
        # (after the progress bar's label, when it got that far)
        assert any(line.startswith(("error:", "Error:")) for line in result.output.splitlines()), result.output[:300]


def _import(app, tmp_path, data: bytes):
    source = tmp_path / "index.csv"
    source.write_bytes(data)
    before = fuzzing.row_counts()
    result = app.test_cli_runner().invoke(import_species, [str(source)])
    _clean_exit(result)
    if result.exit_code:
        assert fuzzing.row_counts() == before, "a refused import wrote rows"
    return result


def test_species_import_refuses_each_kind_of_damaged_file(app, session, tmp_path):
    good = _good_checklist(["Furcifer pardalis", "Chamaeleo calyptratus"])
    for name, (damage, refused) in DAMAGE.items():
        try:
            result = _import(app, tmp_path, damage(good))
            assert refused is None or (result.exit_code == 2) == refused, result.output
        except AssertionError as exc:
            exc.add_note(f"file with {name}")
            raise


def test_species_import_refuses_any_bytes_anywhere(app, session, tmp_path):
    good = _good_checklist(["Furcifer pardalis"])

    @fuzzing.FAST
    @given(at=st.integers(0, len(good)), inserted=st.one_of(hostile.raw_bytes(), st.binary(min_size=1, max_size=20)))
    def run(at, inserted):
        _import(app, tmp_path, good[:at] + inserted + good[at:])

    run()


def test_species_import_takes_any_cell_value_or_refuses_the_file(app, session, tmp_path):
    @fuzzing.FAST
    @given(cells=st.lists(st.tuples(st.sampled_from(HEADER), hostile.text()), min_size=1, max_size=3))
    def run(cells):
        row = _taxon(1, "Furcifer pardalis")
        for column, value in cells:
            row[column] = value
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=HEADER)
        writer.writeheader()
        writer.writerow(dict.fromkeys(HEADER, "") | row)
        data = out.getvalue().encode("utf-8", "surrogatepass")
        result = _import(app, tmp_path, data)
        if result.exit_code == 0:  # accepted: the name is stored once, as it was written in the file
            name = row["FullName"].strip()
            assert session.query(Species).filter(Species.scientific_name == name).count() == 1

    run()


def test_audit_verify_answers_any_file(app, session, tmp_path):
    key = tmp_path / "public.pem"
    key.write_text(_public_pem(app))

    @fuzzing.FAST
    @given(data=st.one_of(hostile.raw_bytes(), hostile.text().map(hostile.utf8), st.binary(max_size=200)))
    def run(data):
        given_file = tmp_path / "given"
        given_file.write_bytes(data)
        for args in (
            ["--file", str(given_file), "--key", str(key)],
            ["--key", str(given_file)],
            ["--against", str(given_file), "--key", str(key)],
        ):
            result = app.test_cli_runner().invoke(verify_audit, args)
            assert result.exit_code in (1, 2), (args, result.exit_code, result.output[:300])
            assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
            assert "Traceback" not in result.output

    run()


def _public_pem(app) -> str:
    from registry import signing

    return signing.Signer(app.config["AUDIT_SIGNING_KEY"]).public_pem
