"""In a real browser (Debian's Chromium driven by Playwright), in Korean and in English:

a keeper reports a birth, offers the newborn to another keeper who accepts it, an officer
acknowledges the transfer, the new keeper reports its death with a veterinary certificate and
records the disposal of the carcass, and an officer finds an overdue item. Screenshots of each step
are kept in test-artifacts/screenshots.
"""
import re
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from registry import create_app
from registry.extensions import db
from registry.services import demo
from registry.services.context import Actor
from tests.conftest import _config, make_database

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
WORDS = {
    "en": {"birth": "Birth recorded as", "offered": "Give the transferee this code", "accepted": "Accepted",
           "acknowledged": "Acknowledged by the authority", "disposed": "Carcass disposed", "attached": "File attached",
           "overdue": "Overdue", "carcass": "Dispose of the carcass", "accept": "Accept", "attach": "Attach"},
    "ko": {"birth": "출생을", "offered": "양수인에게 이 코드를", "accepted": "수락", "acknowledged": "관할 기관 확인 완료",
           "disposed": "사체 처리", "attached": "파일을 첨부했습니다", "overdue": "기한 경과", "carcass": "사체 처리",
           "accept": "수락", "attach": "첨부"},
}


@pytest.fixture(scope="module")
def live(backend, tmp_path_factory):
    """The registry with its demo data, served on a free local port."""
    url, cleanup = make_database(backend, tmp_path_factory.mktemp("browser"))
    app = create_app(_config(url))
    with app.app_context():
        upgrade()
        demo.load(Actor.system("browser-tests"))
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    with app.app_context():
        db.engine.dispose()
    cleanup()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: ./scripts/test installs it (apt-get install chromium)")
    with sync_playwright() as p:
        yield p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])


def _session(browser, live, lang, username):
    context = browser.new_context(locale="ko-KR" if lang == "ko" else "en-US", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{live}/login")
    page.fill("#username", username)
    page.fill("#password", demo.PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    return page


def _choose(page, select: str, text: str) -> None:
    """Pick the option of *select* whose label contains *text*."""
    page.select_option(select, page.locator(f"{select} option", has_text=text).first.get_attribute("value"))


def _submit(page, selector="main form button[type=submit]"):
    with page.expect_navigation():
        page.click(selector)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_keepers_and_officers_in_the_browser(browser, live, backend, lang):
    words, shots = WORDS[lang], SHOTS / f"{backend}-{lang}"
    shots.mkdir(parents=True, exist_ok=True)

    # The breeder reports a chick of her pair.
    breeder = _session(browser, live, lang, "breeder")
    breeder.goto(f"{live}/animals/births/new")
    _choose(breeder, "#species_id", "Psittacus erithacus (")
    breeder.select_option("#dam_id", index=1)
    breeder.fill("#birth_date", "2026-01-15")
    breeder.fill("#identifiers-0-value", f"KR-RING-{lang}")
    breeder.select_option("#identifiers-0-kind", "closed_ring")
    breeder.screenshot(path=shots / "1-birth-form.png")
    _submit(breeder)
    assert words["birth"] in breeder.content()
    chick_id = int(re.search(r"/animals/(\d+)$", breeder.url).group(1))
    breeder.screenshot(path=shots / "2-birth-recorded.png", full_page=True)

    # She offers the chick to the zoo; the zoo accepts with the code; an officer acknowledges.
    breeder.goto(f"{live}/transfers/new")
    breeder.select_option("#animal_ids", str(chick_id))
    _choose(breeder, "#facility_id", "Seoul Grand Park, bird house")
    _submit(breeder)
    assert words["offered"] in breeder.content()
    code = re.search(r"\b([0-9A-F]{8})\b", breeder.inner_text(".flash")).group(1)
    transfer_url = breeder.url
    breeder.screenshot(path=shots / "3-transfer-offered.png")

    zoo = _session(browser, live, lang, "zoo")
    zoo.goto(f"{live}/transfers/")
    zoo.fill("#code", code)
    _submit(zoo, f"form[action$='/transfers/answer'] button:has-text('{words['accept']}')")
    assert words["accepted"] in zoo.content()
    zoo.screenshot(path=shots / "4-transfer-accepted.png")

    officer = _session(browser, live, lang, "officer")
    officer.goto(transfer_url)
    _submit(officer, "form[action$='/acknowledge'] button")
    assert words["acknowledged"] in officer.content()
    officer.screenshot(path=shots / "5-transfer-acknowledged.png")

    # The zoo reports the chick's death with the vet's certificate, then the disposal.
    zoo.goto(f"{live}/animals/{chick_id}/events/death")
    zoo.fill("#cause", "Hypothermia")
    _submit(zoo)
    zoo.select_option("#attachment-kind", "vet_certificate")
    zoo.set_input_files("#attachment-file", files=[{"name": "certificate.pdf", "mimeType": "application/pdf",
                                         "buffer": b"%PDF-1.4\n% veterinary certificate\n"}])
    _submit(zoo, f"form[action*='/files/animal/'] button:has-text('{words['attach']}')")
    assert words["attached"] in zoo.content() and "certificate.pdf" in zoo.content()
    zoo.goto(f"{live}/animals/{chick_id}/events/dispose")
    zoo.select_option("#method", "incineration")
    for field, value in (("#handler", "Gyeonggi Animal Cremation Co."), ("#licence_no", "GG-2023-118"),
                         ("#place", "Yongin"), ("#witness", "Dr. Lee")):
        zoo.fill(field, value)
    _submit(zoo)
    assert words["disposed"] in zoo.inner_text("h1")
    zoo.screenshot(path=shots / "6-disposed.png", full_page=True)

    # An officer finds what is overdue: last year's carcass nobody disposed of.
    officer.goto(f"{live}/deadlines/?overdue=1")
    text = officer.content()
    assert words["carcass"] in text and words["overdue"] in text and re.search(r"KR-A-\d{4}-000002", text)
    officer.screenshot(path=shots / "7-overdue.png", full_page=True)
    for page in (breeder, zoo, officer):
        page.context.close()
