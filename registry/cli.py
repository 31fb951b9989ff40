"""The ``registry`` command: Flask's CLI around the app factory, plus the operators' commands.

Every command calls the same services as the web UI; the console operator acts
as a ``system`` actor, recorded as such in the audit log.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from registry import startup
from registry.permissions import Actor
from registry.services.errors import DomainError


def _operator() -> Actor:
    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers
        name = "operator"
    return Actor.system(f"cli:{name}")


def _fail(exc: DomainError) -> None:
    click.secho(f"error: {exc.message}", fg="red", err=True)
    for field, message in exc.fields.items():
        click.echo(f"  {field}: {message}", err=True)
    for row in getattr(exc, "errors", []):
        click.echo(f"  {row}", err=True)
    sys.exit(2)


users_cli = click.Group("users", help="Manage accounts.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="admin, ministry_officer, customs_officer, keeper or auditor")
@click.option("--name", "display_name", help="Full name shown in the interface")
@click.option("--party", "party_id", type=int, help="Party id a keeper acts for")
@click.option("--email")
@click.option("--office", "office_code", help="Officers: the regional office that issues their permits (box 6)")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@click.option("--temporary", is_flag=True, help="The user must choose a new password at the first login")
@with_appcontext
def create_user(username, role, display_name, party_id, email, office_code, password_stdin, temporary):
    """Create a user; the password is prompted for, or read from stdin."""
    from registry.services import users

    password = _read_password(password_stdin)
    try:
        user = users.create_user(
            _operator(),
            username,
            password,
            role,
            display_name,
            party_id,
            email,
            must_change_password=temporary,
            office_code=office_code,
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"created {user.username} ({user.role})")


def _user_id(username: str) -> int:
    """The id of the account named *username*; exit 2 when there is none."""
    from sqlalchemy import select

    from registry.extensions import db
    from registry.models import User

    user_id = db.session.scalar(select(User.id).where(User.username == username.lower()))
    if user_id is None:
        click.secho(f"error: no user {username!r}", fg="red", err=True)
        sys.exit(2)
    return user_id


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@with_appcontext
def set_password(username, password_stdin):
    """Reset USERNAME's password: their sessions and API tokens end, and they must choose a new one."""
    from registry.services import users

    user_id = _user_id(username)
    try:
        users.set_password(_operator(), user_id, _read_password(password_stdin))
    except DomainError as exc:
        _fail(exc)
    click.echo(f"password of {username.lower()} reset; they must choose a new one at their next login")


@users_cli.command("unlock")
@click.argument("username")
@with_appcontext
def unlock(username):
    """End USERNAME's login delays and lock now (failed attempts counted against the account are forgotten)."""
    from registry.services import users

    try:
        users.unlock(_operator(), username)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"{username.lower()} may log in again")


@users_cli.command("reset-second-factor")
@click.argument("username")
@with_appcontext
def reset_second_factor(username):
    """Forget USERNAME's authenticator app and recovery codes; they set up a new one at the next login."""
    from registry.services import second_factor

    user_id = _user_id(username)
    try:
        second_factor.reset(_operator(), user_id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"second factor of {username} reset; their sessions have ended")


@users_cli.command("end-sessions")
@click.argument("username", required=False)
@click.option("--all", "everyone", is_flag=True, help="End the sessions of every account")
@with_appcontext
def end_sessions(username, everyone):
    """End USERNAME's signed-in sessions (or everyone's with --all): they log in again."""
    from registry.services import sessions

    if bool(username) == everyone:
        raise click.UsageError("name one USERNAME, or give --all")
    user_id = _user_id(username) if username else None
    count = sessions.end_all(_operator(), user_id, sessions.EndReason.ADMINISTRATOR)
    click.echo(f"{count} sessions ended")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


tokens_cli = click.Group("tokens", help="API tokens.")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for")
@click.option("--days", default=90, show_default=True, type=int, help="Days until it expires")
@click.option("--read-only", is_flag=True, help="The token may read, never change anything")
@with_appcontext
def create_token(username, name, days, read_only):
    """Create an API token for USERNAME and print it (it is shown only this once)."""
    from registry.permissions import READ_CAPABILITIES
    from registry.services import tokens

    user_id = _user_id(username)
    try:
        scope = READ_CAPABILITIES if read_only else None
        token, secret = tokens.create_token(_operator(), user_id, name, days, scope=scope)
    except DomainError as exc:
        _fail(exc)
    click.echo(secret)
    click.echo(f"expires {token.expires_at:%Y-%m-%d}", err=True)


exchange_cli = click.Group("exchange", help="Partner authorities of the exchange (/api/v1/exchange) and their tokens.")
partner_cli = click.Group("partner", help="Partner authorities: a country's Management Authority or customs.")
partner_token_cli = click.Group("token", help="A partner's tokens for the exchange.")
exchange_cli.add_command(partner_cli)
exchange_cli.add_command(partner_token_cli)


@partner_cli.command("add")
@click.argument("country")
@click.argument("name")
@click.option("--role", required=True, help="management_authority or customs")
@with_appcontext
def add_partner(country, name, role):
    """Add the partner NAME of COUNTRY (ISO code); prints its id."""
    from registry.services import exchange

    try:
        partner = exchange.add_partner(_operator(), country, name, role)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"partner {partner.id} {partner.country} {partner.role} {partner.name}")


@partner_cli.command("list")
@with_appcontext
def list_partners():
    """Every partner, with its live tokens."""
    from registry.models.base import utcnow
    from registry.services import exchange

    now = utcnow()
    for partner in exchange.partners():
        state = "enabled" if partner.enabled else "disabled"
        certificate = f"certificate {partner.cert_fingerprint}" if partner.cert_fingerprint else "no certificate"
        click.echo(f"{partner.id}\t{partner.country}\t{partner.role}\t{state}\t{partner.name}\t{certificate}")
        for token in exchange.tokens_of(partner.id):
            if token.revoked_at is None and token.expires_at > now:
                click.echo(f"\ttoken {token.id}\t{token.prefix}...\t{token.name}\texpires {token.expires_at:%Y-%m-%d}")


@partner_cli.command("disable")
@click.argument("partner_id", type=int)
@with_appcontext
def disable_partner(partner_id):
    """Disable a partner: its tokens stop working at once."""
    from registry.services import exchange

    try:
        exchange.disable_partner(_operator(), partner_id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"partner {partner_id} disabled")


@partner_cli.command("certificate")
@click.argument("partner_id", type=int)
@click.argument("fingerprint", required=False)
@with_appcontext
def partner_certificate(partner_id, fingerprint):
    """Set the SHA-1 FINGERPRINT of the partner's TLS client certificate (none: clear it).

    Get it with ``openssl x509 -noout -fingerprint -sha1 -in partner.crt``."""
    from registry.services import exchange

    try:
        partner = exchange.set_certificate(_operator(), partner_id, fingerprint)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"partner {partner.id} certificate {partner.cert_fingerprint or 'cleared'}")


@partner_token_cli.command("issue")
@click.argument("partner_id", type=int)
@click.option("--name", default="adapter", show_default=True, help="What the token is for")
@click.option("--days", default=365, show_default=True, type=int, help="Days until it expires")
@with_appcontext
def issue_partner_token(partner_id, name, days):
    """Issue a token for PARTNER_ID and print it (it is shown only this once): hand it over securely."""
    from registry.services import exchange

    try:
        token, secret = exchange.issue_token(_operator(), partner_id, name, days)
    except DomainError as exc:
        _fail(exc)
    click.echo(secret)
    click.echo(f"token {token.id}, expires {token.expires_at:%Y-%m-%d}", err=True)


@partner_token_cli.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_partner_token(token_id):
    """Revoke a partner's token (see ``exchange partner list`` for the ids)."""
    from registry.services import exchange

    try:
        exchange.revoke_token(_operator(), token_id)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"token {token_id} revoked")


species_cli = click.Group("species", help="Species reference data.")


@species_cli.command("load")
@with_appcontext
def load_species():
    """Load the curated species list shipped with the registry (idempotent)."""
    from registry.services import reference

    try:
        counts = reference.load_curated_species(_operator())
    except DomainError as exc:
        _fail(exc)
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@species_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_species(file: Path):
    """Import the CITES Checklist "Index" CSV: every row, or none if any row is wrong."""
    from registry.services import reference

    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            rows = reference.read_checklist(stream)
        with click.progressbar(length=len(rows), label="importing", file=sys.stderr) as bar:
            counts = reference.import_checklist(_operator(), rows, progress=bar.update)
    except DomainError as exc:
        _fail(exc)
    click.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


audit_cli = click.Group("audit", help="The audit log.")


NO_KEY = (
    "error: no public key to check the registry's signatures with, so nothing was verified. Pass --key "
    "PUBLIC.pem (the registry's published key, from /audit/public-key), or run where the signing key is "
    "configured (REGISTRY_AUDIT_KEY)."
)


def _configured_public_pem() -> str | None:
    """The public half of the configured signing key, or None (no key file, or no application to ask)."""
    from flask.cli import ScriptInfo

    from registry import signing

    try:
        config = (
            current_app.config
            if current_app
            else click.get_current_context().ensure_object(ScriptInfo).load_app().config
        )
        return signing.Signer(config["AUDIT_SIGNING_KEY"]).public_pem
    except signing.KeyMissing:
        return None
    except Exception:  # an auditor's machine with no configured application: --key is the way
        return None


@audit_cli.command("verify")
@click.option(
    "--file",
    "export_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check an exported JSON Lines file offline instead of the database",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The registry's published public key (PEM) the signatures must verify with "
    "(default: the public half of the configured signing key)",
)
@click.option(
    "--against",
    "against_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Checkpoints you kept (JSON Lines, from a witness or the checkpoint download): the live log "
    "must still extend every one",
)
@click.option("--full", is_flag=True, help="Then reconcile the tables with the log (registry audit reconcile)")
@click.option(
    "--every-signature",
    is_flag=True,
    help="With --file: check each entry's own signature even when the signed manifest accounts for the file",
)
def verify_audit(export_file, key_file, against_file, full, every_signature):
    """Verify the chain (or an export, offline); exit 1 and name the entry on any tampering.

    Signatures are always checked: without --key or a configured signing key, it refuses (exit 2).
    With --full, the tables are then reconciled with the log, and any row that differs fails it too.
    """
    from registry import signing

    if export_file is not None and (full or against_file is not None):
        click.secho("error: --full and --against check the database; an export is checked alone", fg="red", err=True)
        sys.exit(2)
    if every_signature and export_file is None:
        click.secho("error: --every-signature is for an export (--file)", fg="red", err=True)
        sys.exit(2)
    try:
        public_pem = key_file.read_text(encoding="ascii") if key_file else _configured_public_pem()
    except UnicodeDecodeError:  # a PEM file is ASCII; anything else is the wrong file
        public_pem = ""
    if public_pem is None:
        click.secho(NO_KEY, fg="red", err=True)
        sys.exit(2)
    try:
        trusted = signing.fingerprint(public_pem)
    except ValueError:
        click.secho(f"error: {key_file} is not an Ed25519 public key in PEM form", fg="red", err=True)
        sys.exit(2)
    if export_file is not None:
        from registry import audit_export

        # Damaged bytes are the verifier's to report, line by line, not a decoding traceback.
        with export_file.open(encoding="utf-8", errors="replace") as lines:
            verdict = audit_export.verify_export(lines, trusted, every_signature=every_signature)
        click.echo(str(verdict))
        sys.exit(0 if verdict.ok else 1)
    _verify_database(public_pem, against_file, full)


@with_appcontext
def _verify_database(public_pem: str, against_file: Path | None, full: bool):
    """The chain and its checks; then, if asked, the checkpoints the auditor kept and the tables."""
    from registry.services import audit

    kept = _against(public_pem, against_file) if against_file is not None else True
    verdict = audit.verify_database(public_pem)
    click.echo(str(verdict))
    # Reconciled even when the chain is broken: which rows disagree with it helps find what happened.
    agree = _reconcile() if full else True
    sys.exit(0 if verdict.ok and kept and agree else 1)


def _reconcile() -> bool:
    """Print every row that differs from the log, then a summary; True when there is none."""
    from registry.services.reconcile import reconcile

    found = 0
    for difference in reconcile():
        click.echo(str(difference))
        found += 1
    if found:
        click.echo(f"tables DIFFER from the audit log: {found} difference{'' if found == 1 else 's'}")
    else:
        click.echo("tables reconcile with the audit log: no row differs")
    return not found


@audit_cli.command("reconcile")
@with_appcontext
def reconcile_audit():
    """Replay the log and compare it with every domain table; exit 1 naming each row that differs."""
    sys.exit(0 if _reconcile() else 1)


def _against(public_pem: str, against_file: Path) -> bool:
    """Compare the live log with every checkpoint in *against_file*; True when it extends them all."""
    from registry import signing
    from registry.services import anchor

    with against_file.open(encoding="utf-8", errors="replace") as lines:
        result = anchor.verify_against(lines, signing.public_key(public_pem))
    for problem in result.problems:
        click.secho(f"checkpoint BROKEN: {problem}", fg="red")
    click.echo(f"entries are signed from entry {result.signed_from} on (the ones before predate signing)")
    if not result.checked:
        click.secho(f"no checkpoint in {against_file}: nothing to compare the live log with", fg="red")
    elif result.problems:
        click.echo(f"{result.checked} checkpoints checked: the live log does not extend {against_file}")
    else:
        click.echo(f"{result.checked} checkpoints checked: the live log extends every one in {against_file}")
    return bool(result.checked) and not result.problems


@audit_cli.command("keygen")
@click.option("--if-missing", is_flag=True, help="Do nothing when a key exists")
@with_appcontext
def keygen(if_missing):
    """Create the registry's Ed25519 signing key (kept in a file, never in the database)."""
    from registry import signing

    path = Path(current_app.config["AUDIT_SIGNING_KEY"])
    if path.exists():
        if if_missing:
            return
        click.secho(f"error: {path} exists; the registry keeps one key", fg="red", err=True)
        sys.exit(2)
    signing.generate(path)
    click.echo(f"wrote {path}; public key fingerprint {signing.Signer(path).fingerprint}")


@audit_cli.command("checkpoint")
@with_appcontext
def checkpoint():
    """Sign the chain's head now (run it regularly, e.g. hourly from cron)."""
    from registry.services import audit

    cp = audit.checkpoint(_operator())
    click.echo(f"checkpoint {cp.id}: entry {cp.seq} {cp.entry_hash} signed by {cp.key_fingerprint}")


@audit_cli.command("publish")
@with_appcontext
def publish():
    """Append to each witness (REGISTRY_AUDIT_WITNESSES) the signed checkpoints it is missing; safe to repeat."""
    from registry.services import witnesses

    paths = current_app.config["AUDIT_WITNESSES"]
    if not paths:
        click.secho("error: no witnesses configured (REGISTRY_AUDIT_WITNESSES)", fg="red", err=True)
        sys.exit(2)
    done = witnesses.catch_up(current_app.config["AUDIT_ORIGIN"], paths)
    for path, appended in done.items():
        if isinstance(appended, str):
            click.secho(f"{path}: not updated: {appended}", fg="red", err=True)
        else:
            click.echo(f"{path}: {appended} checkpoint{'' if appended == 1 else 's'} appended")
    sys.exit(1 if any(isinstance(appended, str) for appended in done.values()) else 0)


@audit_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "pdf"]), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="NAME=VALUE",
    help="animal, permit, species, keeper, actor, action, since, until",
)
@click.option(
    "--animal",
    metavar="REGNO",
    help="One animal's complete history (registry number or any identifier); alone, the JSON Lines "
    "export proves it complete offline",
)
@with_appcontext
def export(fmt, out, filters, animal):
    """Export the event history (JSON Lines exports are signed and verifiable offline)."""
    from registry.services import exports, history

    try:
        given = dict(f.split("=", 1) for f in filters if "=" in f)
        if animal:
            given["animal"] = animal
        chosen = history.parse(given)
        chunks, _, _ = exports.export(_operator(), chosen, fmt)
        with out.open("wb") as sink:
            for chunk in chunks:
                sink.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
    except DomainError as exc:
        _fail(exc)
    click.echo(f"wrote {out}")


permits_cli = click.Group("permits", help="Permit housekeeping.")


@permits_cli.command("expire")
@with_appcontext
def expire_permits():
    """Mark issued permits past their validity as expired (run daily)."""
    from registry.services import permits

    for number in permits.expire_due(_operator()):
        click.echo(f"expired {number}")


@permits_cli.command("export-xml")
@click.argument("number")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the XML here (default: stdout)")
@click.option("--non-final", is_flag=True, help="Without the border record (EPIX's non-final document)")
@click.option("--unsigned", is_flag=True, help="Without the XML signature")
@with_appcontext
def export_permit_xml(number, out, non_final, unsigned):
    """Write issued permit NUMBER as UN/CEFACT CITES e-permit XML, signed by the authority."""
    from sqlalchemy import select

    from registry import document_keys, epermit
    from registry.extensions import db
    from registry.models import Permit

    permit = db.session.scalar(
        select(Permit).where(Permit.issuing_country == current_app.config["ISSUING_COUNTRY"], Permit.number == number)
    )
    if permit is None:
        raise click.ClickException(f"no issued permit {number}")
    try:
        data = epermit.document(permit, final=not non_final, signed=not unsigned)
    except document_keys.KeysMissing as exc:
        raise click.ClickException(str(exc)) from None
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        click.echo(f"wrote {out}")


@permits_cli.command("import-xml")
@click.argument("permit_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--trust",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The partner authority's root certificate (PEM); default: EPERMIT_PARTNER_ROOTS/<country>.pem",
)
@with_appcontext
def import_permit_xml(permit_id, file, trust):
    """Check a partner authority's e-permit XML FILE against application PERMIT_ID and record it
    as the application's foreign document; every mismatch is listed when it is refused."""
    from registry.epermit import imports

    try:
        permit = imports.record(
            _operator(), permit_id, file.read_bytes(), trust_pem=trust.read_bytes() if trust else None
        )
    except DomainError as exc:
        _fail(exc)
    click.echo(f"recorded {permit.foreign_permit_no} ({permit.foreign_permit_date}) on {permit.display_number}")


@permits_cli.command("dev-ca")
@with_appcontext
def dev_ca():
    """Create a development CA and document-signing certificate (never for production)."""
    from registry import document_verify
    from registry.services import document_signing

    if startup.is_production(current_app.config):
        click.secho(
            "error: a development CA is trusted by no one; production configures the authority's own "
            "key and certificate (REGISTRY_DOCUMENT_KEY, REGISTRY_DOCUMENT_CERT)",
            fg="red",
            err=True,
        )
        sys.exit(2)
    key = Path(current_app.config["DOCUMENT_SIGNING_KEY"])
    chain = Path(current_app.config["DOCUMENT_SIGNING_CERT"])
    try:
        document_signing.create_dev_ca(key, chain)
    except FileExistsError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    root = document_verify.trust_roots(chain.read_bytes())[-1]
    click.echo(f"wrote the key to {key} and the certificates to {chain}")
    click.echo(f"root certificate SHA-256 fingerprint {document_verify.fingerprint(root)}")


def _configured(name: str) -> str | None:
    """A setting of the configured application, or None on a machine without one (offline checks)."""
    from flask.cli import ScriptInfo

    try:
        config = (
            current_app.config
            if current_app
            else click.get_current_context().ensure_object(ScriptInfo).load_app().config
        )
        return config[name]
    except Exception:  # an officer's laptop with no configured application: --trust/--key are the way
        return None


def _unchecked(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(2)


@permits_cli.command("verify")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--qr", "qr_text", metavar="TEXT", help="Check a permit's QR code text instead of a file")
@click.option(
    "--trust",
    "trust_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The authority's certificate (PEM) a document's signature must chain to "
    "(default: the root of the configured REGISTRY_DOCUMENT_CERT)",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --qr: the registry's published public key (PEM; default: the configured signing key's)",
)
def verify_document(file, qr_text, trust_file, key_file):
    """Check a permit offline: a signed PDF or e-permit XML (FILE), or a QR code's text (--qr).

    Exit 0: valid; 1: not valid (the reason on stderr); 2: nothing was checked (unreadable file,
    unknown format, no certificate or key to check with).
    """
    import logging

    from registry import document_verify

    # pyHanko logs a damaged signature with a traceback; the verdict below names the problem.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    if (file is None) == (qr_text is None):
        _unchecked("give a FILE or --qr TEXT (one of them)")
    if qr_text is not None:
        try:
            public_pem = key_file.read_text(encoding="ascii") if key_file else _configured_public_pem()
        except (OSError, UnicodeDecodeError) as exc:
            _unchecked(f"cannot read the public key {key_file}: {exc}")
        if public_pem is None:
            _unchecked("no public key to check the QR code with: pass --key PUBLIC.pem (the registry's published key)")
        result = document_verify.verify_qr(qr_text, public_pem)
    else:
        trust_path = trust_file or _configured("DOCUMENT_SIGNING_CERT")
        if trust_path is None:
            _unchecked("no certificate to check the signature with: pass --trust AUTHORITY.pem")
        try:
            roots = document_verify.trust_roots(Path(trust_path).read_bytes())
            # The configured chain ends with its root; a file given with --trust is trusted whole.
            roots = roots if trust_file else roots[-1:]
        except OSError as exc:
            _unchecked(f"no certificate at {trust_path} ({exc.strerror or exc}): pass --trust AUTHORITY.pem")
        except ValueError:
            _unchecked(f"{trust_path} holds no PEM certificate")
        try:
            data = file.read_bytes()
        except OSError as exc:
            _unchecked(f"cannot read {file}: {exc.strerror or exc}")
        result = document_verify.verify_file(data, roots)
    for fact in result.facts:
        click.echo(fact)
    if result.status == document_verify.Status.VALID:
        click.echo("VALID")
    elif result.status == document_verify.Status.INVALID:
        click.secho(f"NOT VALID: {result.reason}", fg="red", err=True)
    else:
        click.secho(f"error: {result.reason}", fg="red", err=True)
    sys.exit(int(result.status))


idempotency_cli = click.Group("idempotency", help="The API's Idempotency-Key answers.")


@idempotency_cli.command("purge")
@with_appcontext
def purge_idempotency_keys():
    """Delete the Idempotency-Key answers older than IDEMPOTENCY_KEY_HOURS (run daily)."""
    from registry.services import idempotency

    click.echo(f"deleted {idempotency.purge()} expired Idempotency-Key answers")


report_cli = click.Group("report", help="Reports.")


@report_cli.command("annual")
@click.argument("year", type=int)
@click.option("--direction", type=click.Choice(["export", "import"]), default="export", show_default=True)
@click.option(
    "--out",
    "--output",
    "out",
    type=click.Path(path_type=Path),
    help="Write the upload file here; a directory gets the file under its standard name (default: stdout)",
)
@with_appcontext
def annual_report(year, direction, out):
    """The CITES annual report for YEAR as the Trade Database's upload file.

    Refused (nothing written, exit 1) while a row breaks a primary rule; the errors and the
    warnings are listed on stderr.
    """
    from registry.services import reports

    try:
        found = reports.rows(_operator(), year, direction)
    except DomainError as exc:
        _fail(exc)
    findings = reports.check(found)
    for finding in findings:
        click.echo(str(finding), err=True)
    errors = sum(f.level == "error" for f in findings)
    click.echo(f"{len(found)} rows, {errors} errors, {len(findings) - errors} warnings", err=True)
    try:
        made = reports.upload(found, year, direction)
    except DomainError as exc:
        click.secho(f"no upload file made: {exc.message}", fg="red", err=True)
        sys.exit(1)
    if out is None:
        click.echo(made.text, nl=False)
        return
    target = out / made.filename if out.is_dir() else out
    target.write_text(made.text, encoding="utf-8", newline="")
    click.echo(f"wrote {target}", err=True)


@click.command("demo")
@click.option(
    "--scale",
    "animals",
    type=click.IntRange(min=1, max=10_000_000),
    help="Generate a registry of this many animals (e.g. 100000), with their permits, keepers and history",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="The generator's seed (same seed, same data)")
@with_appcontext
def demo(animals, seed):
    """Load demo data: species, parties, facilities, users, permits and animals (idempotent).

    Without --scale, a few hundred animals in every state; with it, as many as asked.
    """
    from registry.services import demo as demo_service
    from registry.services import scale

    if startup.is_production(current_app.config):
        click.secho(
            "error: the demo's accounts have a published password and authenticator key; "
            "registry demo never runs in production",
            fg="red",
            err=True,
        )
        sys.exit(2)
    operator = _operator()
    created = demo_service.load(operator)
    if not created:
        click.echo("demo data already present; nothing changed")
    else:
        wanted = animals or demo_service.ANIMALS
        with click.progressbar(length=wanted, label="generating animals", file=sys.stderr) as bar:
            bar.update(demo_service.count_animals())
            written = scale.generate(operator, wanted, seed, progress=bar.update)
        click.echo(f"{demo_service.count_animals()} animals ({written} audit entries generated in bulk)")
        if written:
            click.echo("generated keepers: keeper00001, keeper00002... (keepers; the same password)")
    click.echo("demo logins (password for all: " + demo_service.PASSWORD + "):")
    for username, role_name in demo_service.LOGINS:
        click.echo(f"  {username:<12} {role_name}")
    click.echo(
        "staff logins then ask for an authenticator code: add the key "
        f"{demo_service.TOTP_SECRET} to an authenticator app (or run: python -c "
        f"\"import pyotp; print(pyotp.TOTP('{demo_service.TOTP_SECRET}').now())\")"
    )


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(dest: Path):
    """Write a consistent copy of the database to DEST while the registry keeps serving.

    SQLite: the online backup API (the WAL's commits included; never copy the file). PostgreSQL:
    pg_dump -Fc (restore with `registry restore`, or pg_restore). DEST must not exist.
    """
    from registry import backup
    from registry.extensions import db

    try:
        done = backup.backup(db.engine.url, dest)
    except backup.BackupError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    held = f"; audit entries up to {done.head_seq}" if done.head_seq is not None else ""
    click.echo(f"wrote {done.path}{held}")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore_command(source: Path):
    """Load a backup made by `registry backup` into the configured database, which must be empty.

    Then check it: `registry audit verify --full` (docs/deploy.md, "Restore drill").
    """
    from registry import backup
    from registry.extensions import db

    try:
        backup.restore(source, db.engine.url, db.engine)
    except backup.BackupError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"restored {source}; now run: registry audit verify --full")


docs_cli = click.Group("docs", help="Generated documentation.")


@docs_cli.command("diagrams")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("docs"))
def diagrams(out: Path):
    """Write the lifecycle diagrams, generated from the machines' declarations."""
    from registry.machines import ANIMAL, FACILITY, PERMIT, TRANSFER
    from registry.machines.diagram import markdown

    out.mkdir(parents=True, exist_ok=True)
    for machine in (ANIMAL, PERMIT, TRANSFER, FACILITY):
        path = out / f"{machine.name}-lifecycle.md"
        path.write_text(markdown(machine), encoding="utf-8")
        click.echo(f"wrote {path}")


def register_commands(app) -> None:
    for command in (
        users_cli,
        tokens_cli,
        exchange_cli,
        report_cli,
        species_cli,
        audit_cli,
        permits_cli,
        idempotency_cli,
        demo,
        docs_cli,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(command)


def _create_app():
    from registry import create_app

    # Not the serving check: each command is checked for what it needs (_Registry.resolve_command).
    return create_app(check_start=False)


#: What a command needs in production, by its name (and its subcommand's). `run` serves, so it gets
#: every check; `audit keygen` makes the missing key and `docs` writes files, so they need nothing;
#: every other command works on the database, so it must be the real one (never a stray SQLite file).
_PRODUCTION_NEEDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("run",): startup.ALL,
    ("audit", "keygen"): (),
    ("permits", "dev-ca"): (),
    ("permits", "verify"): (),
    ("docs",): (),
}


def _production_needs(words: list[str]) -> tuple[str, ...]:
    for length in (2, 1):
        if tuple(words[:length]) in _PRODUCTION_NEEDS:
            return _PRODUCTION_NEEDS[tuple(words[:length])]
    return (startup.DATABASE,)


class _Registry(FlaskGroup):
    """The `registry` command: a missing signing key is an operator's error with a fix, not a traceback."""

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        if name and not ctx.resilient_parsing and not {"--help", "-h"} & set(rest):
            _check_production(ctx, [name, *rest])
        return name, command, rest

    def invoke(self, ctx):
        from registry import document_keys, signing

        try:
            return super().invoke(ctx)
        except (signing.KeyMissing, document_keys.KeysMissing) as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


def _check_production(ctx, words: list[str]) -> None:
    """In production, refuse (exit 2, one line per problem) a command whose needs are not met."""
    from flask.cli import ScriptInfo

    config = ctx.ensure_object(ScriptInfo).load_app().config
    if startup.is_production(config):
        found = startup.problems(config, checks=_production_needs(words))
        if found:
            startup.refuse(found, status=2)


main = _Registry(create_app=_create_app, help="Wildlife Registry administration.", set_debug_flag=False)
