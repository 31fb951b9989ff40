from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from registry.commands.endorsements import Outcome
from registry.forms import options
from registry.i18n import _l


class FindForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Permit number, or the address in its QR code"), validators=[DataRequired(), Length(max=500)])


class EndorsedLineForm(FlaskForm):
    class Meta:
        csrf = False

    quantity = StringField(_l("Actual quantity"))
    outcome = SelectField(
        _l("Outcome"),
        choices=options(
            [
                (Outcome.CLEARED.value, _l("Cleared")),
                (Outcome.REFUSED.value, _l("Refused")),
                (Outcome.SEIZED.value, _l("Seized")),
            ]
        ),
    )
    marks = TextAreaField(
        _l("Microchips (entry) or registry numbers (exit), one per line"), validators=[Optional(), Length(max=5000)]
    )


class EndorsementForm(FlaskForm):
    """What the page shows; the endorsement it makes is checked by commands.endorsements.EndorseSchema."""

    port = StringField(_l("Port"))
    endorsed_on = DateField(_l("Date"), validators=[Optional()])
    transport_doc = StringField(_l("Air waybill or bill of lading No."))
    seizure_facility_id = SelectField(_l("Facility for seized animals"), coerce=str, validators=[Optional()])
    override_reason = StringField(_l("Reason to accept a foreign document already used (if refused for it)"))
    # Entry on an import permit issued before the exporting country's permit (Appendix I).
    foreign_permit_no = StringField(_l("Exporting country's permit no. (if the permit quotes none)"))
    foreign_permit_date = StringField(_l("Its date"), render_kw={"type": "date"})
    lines = FieldList(FormField(EndorsedLineForm))
