from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.fields.choices import SelectChoice


def options(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]


class ConfirmForm(FlaskForm):
    """A form with no fields: CSRF protection for buttons that change state."""


class VersionedForm(FlaskForm):
    """A form that acts on a record: it carries the version the user saw, so a stale page is refused (409)."""

    version = HiddenField()
