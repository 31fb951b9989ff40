from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from registry import passwords
from registry.i18n import _l

#: Long enough for any password the rules accept, and for a user who pastes one a little too long
#: (the rules then say so, instead of the form cutting it).
_TYPED = Length(max=4 * passwords.MAX_LENGTH)


class ChangePasswordForm(FlaskForm):
    current = PasswordField(
        _l("Current password"), validators=[DataRequired(), _TYPED], render_kw={"autocomplete": "current-password"}
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(), _TYPED],
        render_kw={"autocomplete": "new-password"},
    )
    repeat = PasswordField(
        _l("New password, again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
