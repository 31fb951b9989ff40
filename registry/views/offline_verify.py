"""The offline verification page: saved once on an officer's phone or laptop, it checks a permit's
QR payload (registry.offline_qr) with the registry's public key, in the browser, without network."""

from flask import Blueprint, render_template

from registry.services import anchor

bp = Blueprint("offline_verify", __name__)


@bp.get("/verify-offline")
def page():
    signer = anchor.signer()
    return render_template("verify_offline.html", public_pem=signer.public_pem, fingerprint=signer.fingerprint)
