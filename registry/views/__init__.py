"""Blueprints, one per area."""


def register_blueprints(app):
    from registry.views import admin, animals, audit, auth, errors, main, permits, profile, species

    for module in (auth, main, animals, permits, species, audit, admin, profile):
        app.register_blueprint(module.bp)
    errors.register(app)
