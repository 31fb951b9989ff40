from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from registry import offices
from registry.forms import options
from registry.i18n import _l
from registry.permissions import ROLE_LABELS, Role

ROLE_CHOICES = [(r.value, _l(ROLE_LABELS[r])) for r in Role]


class UserForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    display_name = StringField(_l("Full name"), validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), choices=options(ROLE_CHOICES))
    party_id = SelectField(_l("Party (keepers)"), coerce=str, validators=[Optional()])
    office_code = SelectField(
        _l("Office (officers: box 6)"), choices=options([("", "-"), *offices.choices()]), validators=[Optional()]
    )
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=200)])


class EditUserForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=options(ROLE_CHOICES))
    party_id = SelectField(_l("Party (keepers)"), coerce=str, validators=[Optional()])
    office_code = SelectField(
        _l("Office (officers: box 6)"), choices=options([("", "-"), *offices.choices()]), validators=[Optional()]
    )


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])


class SpeciesForm(FlaskForm):
    name_en = StringField(_l("English name"), validators=[Optional(), Length(max=200)])
    name_ko = StringField(_l("Korean name"), validators=[Optional(), Length(max=200)])
    appendix = SelectField(_l("Appendix"), choices=options([(a, a) for a in ("I", "II", "III")]))
    national_category_code = SelectField(_l("National category"), coerce=str, validators=[Optional()])
    annotation = TextAreaField(_l("Annotation"), validators=[Optional(), Length(max=2000)])
    listed_on = StringField(_l("First listed on (pre-Convention cut-off)"), render_kw={"type": "date"})
    listing_countries = StringField(_l("Appendix III listing States (ISO codes)"), validators=[Length(max=200)])
    distribution = StringField(_l("Range States (ISO codes)"), validators=[Length(max=2000)])
    populations = StringField(_l("Populations listed apart, e.g. BW NA ZA ZW:II; IN:I"), validators=[Length(max=2000)])


class DeadlineForm(FlaskForm):
    days = IntegerField(_l("Days"), validators=[NumberRange(0, 3650)])
