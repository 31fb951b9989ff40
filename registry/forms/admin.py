from flask_wtf import FlaskForm
from registry.forms import options
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from registry.permissions import Role


class UserForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=64)])
    display_name = StringField("Full name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=options([(r.value, r.value.replace("_", " ")) for r in Role]))
    party_id = SelectField("Party (keepers)", coerce=str, validators=[Optional()])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=200)])
