"""Blueprints, one per area."""


def register_blueprints(app):
    from registry.views import (
        admin,
        animals,
        audit,
        auth,
        customs,
        dashboard,
        deadlines,
        errors,
        facilities,
        files,
        main,
        offline_verify,
        passwords,
        permits,
        profile,
        public,
        reports,
        species,
        transfers,
    )

    for module in (
        auth,
        main,
        animals,
        deadlines,
        transfers,
        facilities,
        files,
        permits,
        customs,
        species,
        audit,
        reports,
        dashboard,
        admin,
        profile,
        passwords,
        public,
        offline_verify,
    ):
        app.register_blueprint(module.bp)
    errors.register(app)
