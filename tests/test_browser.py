"""In a real browser (Debian's Chromium driven by Playwright), in Korean and in English:

a keeper reports a birth, offers the newborn to another keeper who accepts it, an officer
acknowledges the transfer, the new keeper reports its death with a veterinary certificate and
records the disposal of the carcass (after a refusal in the reader's language), and an officer
finds an overdue item. Then the pages each role works in, on a tablet and a phone: no sideways
scrolling, every field labelled, text contrast at WCAG AA; and a keyboard alone logs in and skips to
the content. Screenshots of each step are kept in test-artifacts/screenshots.
"""

import re
import threading
import time
from datetime import date
from pathlib import Path

import pyotp
import pytest
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from registry import create_app, totp
from registry.extensions import db
from registry.permissions import Actor
from registry.services import demo
from tests.conftest import _config, make_database

# A real Chromium, a live server and the demo data: tens of seconds.
pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
WORDS = {
    "en": {
        "birth": "Birth recorded as",
        "offered": "Give the transferee this code",
        "accepted": "Accepted",
        "acknowledged": "Acknowledged by the authority",
        "disposed": "Carcass disposed",
        "attached": "File attached",
        "overdue": "Overdue",
        "carcass": "Dispose of the carcass",
        "accept": "Accept",
        "attach": "Attach",
        "must_burn": "the carcass must be incinerated or buried",
    },
    "ko": {
        "birth": "출생을",
        "offered": "양수인에게 이 코드를",
        "accepted": "수락",
        "acknowledged": "관할 기관 확인 완료",
        "disposed": "사체 처리",
        "attached": "파일을 첨부했습니다",
        "overdue": "기한 경과",
        "carcass": "사체 처리",
        "accept": "수락",
        "attach": "첨부",
        "must_burn": "사체는 소각하거나 매립해야 합니다",
    },
}


#: The demo's permits in the order it made them (their ids are random: see models.permit).
PERMITS: list[int] = []


def _permits_in_order() -> list[int]:
    from sqlalchemy import func, select

    from registry.models import AuditEntry

    first = func.min(AuditEntry.seq)
    rows = db.session.execute(
        select(AuditEntry.object_id, first).where(AuditEntry.object_type == "permit").group_by(AuditEntry.object_id)
    )
    return [int(object_id) for object_id, _seq in sorted(rows, key=lambda row: row[1])]


@pytest.fixture(scope="module")
def live(backend, tmp_path_factory):
    """The registry with its demo data, served on a free local port."""
    url, cleanup = make_database(backend, tmp_path_factory.mktemp("browser"))
    app = create_app(_config(url))
    with app.app_context():
        upgrade()
        demo.load(Actor.system("browser-tests"))
        PERMITS[:] = _permits_in_order()
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
        yield p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )


def _session(browser, live, lang, username):
    context = browser.new_context(locale="ko-KR" if lang == "ko" else "en-US", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{live}/login")
    page.fill("#username", username)
    page.fill("#password", demo.PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    if page.url.endswith("/login/code"):  # staff roles: the authenticator's code
        page.fill("#code", _authenticator_code(username))
        with page.expect_navigation():
            page.click("main button[type=submit]")
    assert "/login" not in page.url, page.url
    return page


_codes_used: dict[str, int] = {}


def _authenticator_code(username: str) -> str:
    """The demo authenticator's code for a step not yet used by *username*: each code is good once,
    so a second login within the same 30 seconds waits for the next one, as a person would."""
    while (step := totp.current_step()) <= _codes_used.get(username, -1):
        time.sleep(0.5)
    _codes_used[username] = step
    return pyotp.TOTP(demo.TOTP_SECRET).at(step * totp.STEP)


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
    zoo.check("#disease_suspected")
    _submit(zoo)
    zoo.select_option("#attachment-kind", "vet_certificate")
    zoo.set_input_files(
        "#attachment-file",
        files=[
            {
                "name": "certificate.pdf",
                "mimeType": "application/pdf",
                "buffer": b"%PDF-1.4\n% veterinary certificate\n",
            }
        ],
    )
    _submit(zoo, f"form[action*='/files/animal/'] button:has-text('{words['attach']}')")
    assert words["attached"] in zoo.content() and "certificate.pdf" in zoo.content()

    def dispose(method):
        zoo.goto(f"{live}/animals/{chick_id}/events/dispose")
        zoo.select_option("#method", method)
        for field, value in (
            ("#handler", "Gyeonggi Animal Cremation Co."),
            ("#licence_no", "GG-2023-118"),
            ("#place", "Yongin"),
            ("#witness", "Dr. Lee"),
        ):
            zoo.fill(field, value)
        _submit(zoo)

    # A suspected disease rules out rendering: the refusal comes in the reader's language.
    dispose("rendering")
    assert words["must_burn"] in zoo.inner_text(".flash")
    zoo.screenshot(path=shots / "6-disposal-refused.png")
    dispose("incineration")
    assert words["disposed"] in zoo.inner_text("h1")
    zoo.screenshot(path=shots / "7-disposed.png", full_page=True)

    # An officer finds what is overdue: last year's carcass nobody disposed of.
    officer.goto(f"{live}/deadlines/?overdue=1")
    text = officer.content()
    assert words["carcass"] in text and words["overdue"] in text and re.search(r"KR-A-\d{4}-000002", text)
    officer.screenshot(path=shots / "8-overdue.png", full_page=True)
    for page in (breeder, zoo, officer):
        page.context.close()


#: Pages each role works in, for the tablet, label and contrast checks (ids from the demo data).
PAGES = {
    "customs": ["/", "/customs/", "/customs/permits/{permit[5]}/endorse", "/permits/{permit[0]}"],
    "zoo": [
        "/",
        "/animals/",
        "/animals/1",
        "/animals/births/new",
        "/transfers/new",
        "/deadlines/",
        "/facilities/",
        "/profile/password",
    ],
    "officer": ["/", "/deadlines/", "/facilities/1", "/permits/", "/transfers/"],
}

#: For every visible form control, why it has no accessible name (none when it has one).
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => !['hidden', 'submit', 'button'].includes(e.type) && e.offsetParent !== null)
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML.slice(0, 120))"""

#: Table cells that would stack on a phone without their column's name (action buttons need none).
UNNAMED_CELLS = """() => [...document.querySelectorAll('table.list tbody td')]
  .filter(td => td.colSpan === 1 && !td.dataset.label && !td.querySelector('button, form') && td.textContent.trim())
  .map(td => td.textContent.trim().slice(0, 30))"""

#: Text whose contrast with its background is under WCAG AA (4.5:1; 3:1 for large text).
LOW_CONTRAST = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const linear = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => { const c = [r, g, b].map(linear);
                               return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; };
  const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                              if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const low = [];
  for (const e of document.querySelectorAll('body *')) {
    if (!e.offsetParent || ![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(e), a = lum(rgb(style.color)), b = lum(background(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && style.fontWeight >= 700);
    if (ratio < (large ? 3 : 4.5)) low.push(`${e.tagName} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return low;
}"""


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_pages_work_on_a_tablet_and_a_phone_with_labels_and_contrast(browser, live, lang):
    """A customs officer's tablet (768 px) and a phone (360 px): no sideways scrolling, every field
    labelled, text readable against its background."""
    for username, paths in PAGES.items():
        page = _session(browser, live, lang, username)
        for width, height in ((768, 1024), (360, 740)):
            page.set_viewport_size({"width": width, "height": height})
            for path in (p.format(permit=PERMITS) for p in paths):
                response = page.goto(f"{live}{path}")
                assert response.status == 200, (username, path)
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at {width}px for {username}"
                assert page.evaluate(UNLABELLED) == [], (username, path)
                assert page.evaluate(LOW_CONTRAST) == [], (username, path)
                if width < 640:  # stacked table cells each name their column
                    assert page.evaluate(UNNAMED_CELLS) == [], (username, path)
        page.screenshot(path=SHOTS / f"tablet-{username}-{lang}.png", full_page=True)
        page.context.close()


def test_a_keyboard_alone_logs_in_and_skips_to_the_content(browser, live):
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    page.goto(f"{live}/login")
    assert page.evaluate("document.activeElement.id") == "username"  # the cursor waits in the first field
    page.keyboard.type("customs")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(demo.PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # The second step waits for the code, the cursor in its field (autofocus lands once it has rendered).
    assert page.url.endswith("/login/code"), page.url
    page.wait_for_function("document.activeElement && document.activeElement.id === 'code'", timeout=5000)
    page.keyboard.type(_authenticator_code("customs"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/login" not in page.url
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # the first stop skips the header
    page.keyboard.press("Enter")
    page.wait_for_url("**#main")
    # Focus is visible: the focused control draws an outline.
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    context.close()


def _qr_permit():
    """What offline_qr.content reads of a permit, without a database."""
    from decimal import Decimal
    from types import SimpleNamespace as NS

    species = NS(scientific_name="Psittacus erithacus")
    holder = NS(name="Seoul Grand Park Zoo")
    return NS(
        issuing_country="KR",
        number="KR/2026/000777",
        doc_type="import",
        direction="import",
        importer=holder,
        exporter=None,
        applicant=holder,
        import_country="KR",
        export_country="ZA",
        valid_from=date(2026, 12, 1),
        valid_until=date(2027, 11, 30),
        lines=[NS(species=species, term_code="LIV", quantity=Decimal("4"), unit_code=None, appendix="I", source="C")],
    )


def test_the_saved_offline_page_checks_a_qr_payload_without_the_server(browser, live):
    """The page checks the signature in the browser: it still answers after the network is cut."""
    from registry import offline_qr, signing
    from tests.conftest import _signing_key

    text = offline_qr.payload(_qr_permit(), signing.Signer(_signing_key()))
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.goto(f"{live}/verify-offline")
    context.set_offline(True)
    page.fill("#qr-text", f"{live}/verify/KR/2026/000777?t=secret#{text}")
    page.click("#offline-verify button[type=submit]")
    page.wait_for_selector("#offline-facts:not([hidden])")
    assert "Signature valid" in page.inner_text("#offline-result")
    assert page.inner_text('[data-field="n"]') == "KR/2026/000777"
    assert "Psittacus erithacus" in page.inner_text("#offline-lines")
    # One changed character of the signed content: refused.
    prefix, body, signature = text.split(".")
    page.fill("#qr-text", ".".join((prefix, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], signature)))
    page.click("#offline-verify button[type=submit]")
    page.wait_for_function("document.querySelector('#offline-result').className.includes('error')")
    assert "Not valid" in page.inner_text("#offline-result")
    assert page.is_hidden("#offline-facts")
    context.close()
