"""Forms for keeping facilities: what the pages show. What the fields must hold is said once, by
the schemas of registry.commands.facilities, which the views load the forms' data with."""

from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.forms import VersionedForm, options
from registry.i18n import _l
from registry.labels import choices
from registry.models import INSPECTION_RESULTS


class AllowanceEntry(FlaskForm):
    class Meta:
        csrf = False

    species_id = SelectField(_l("Species"), coerce=str, validators=[Optional()])
    capacity = StringField(_l("Capacity"))


class ApplyForm(FlaskForm):
    name = StringField(_l("Name of the facility"))
    address = TextAreaField(_l("Address"))
    holder_party_id = SelectField(
        _l("Holder (officers applying on someone's behalf)"), coerce=str, validators=[Optional()]
    )
    allowances = FieldList(FormField(AllowanceEntry), min_entries=4)


class CapacityForm(VersionedForm):
    allowances = FieldList(FormField(AllowanceEntry), min_entries=0)


class InspectionForm(VersionedForm):
    inspected_on = DateField(_l("Inspected on"), validators=[Optional()])
    result = SelectField(_l("Result"), choices=options(choices("inspection", INSPECTION_RESULTS)))
    findings = TextAreaField(_l("Findings"))
    next_due = DateField(_l("Next inspection due"), validators=[Optional()])


class ReasonForm(VersionedForm):
    reason = TextAreaField(_l("Reason or note"))
