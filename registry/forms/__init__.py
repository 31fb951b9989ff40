from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """A form with no fields: CSRF protection for buttons that change state."""
