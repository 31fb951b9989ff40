from flask_wtf import FlaskForm
from registry.forms import options
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from registry.permissions import ROLE_LABELS, Role
from registry.i18n import _l


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=options([(r.value, _l(ROLE_LABELS[r])) for r in Role]))
    party_id = SelectField(_l("Party (keepers)"), coerce=str, validators=[Optional()])
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=200)])
