from flask import render_template

from registry.extensions import db
from registry.services.errors import DomainError


def register(app):
    def page(status: int, title: str, message: str | None = None):
        return render_template("error.html", status=status, title=title, message=message), status

    app.register_error_handler(403, lambda e: page(403, "Not allowed", "Your role does not allow this."))
    app.register_error_handler(404, lambda e: page(404, "Not found"))
    app.register_error_handler(405, lambda e: page(405, "Method not allowed"))

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return page(exc.status, "Refused", exc.message)

    @app.errorhandler(500)
    def _server_error(e):
        db.session.rollback()
        return page(500, "Something went wrong", "Nothing was saved. The error has been logged.")
