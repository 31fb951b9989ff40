"""Forms for transfers between keepers: what the pages show. What the fields must hold is said
once, by the schemas of registry.commands.transfers, which the views load the forms' data with."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.forms import VersionedForm
from registry.i18n import _l


class TransferForm(FlaskForm):
    animal_ids = SelectMultipleField(_l("Animals"), coerce=str)
    facility_id = SelectField(_l("Receiving facility (the register of facilities)"), coerce=str)
    ownership = BooleanField(_l("Ownership passes too (untick to move custody only)"), default=True)
    planned_on = DateField(_l("Planned date"), validators=[Optional()])
    note = TextAreaField(_l("Note"))


class AnswerForm(FlaskForm):
    code = StringField(_l("Transfer code"))


class NoteForm(VersionedForm):
    note = TextAreaField(_l("Note"))
