from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


def options(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]


class ConfirmForm(FlaskForm):
    """A form with no fields: CSRF protection for buttons that change state."""
