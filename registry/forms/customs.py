from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from registry.forms import options


class FindForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Permit number, or the address in its QR code", validators=[DataRequired(), Length(max=500)])


class EndorsedLineForm(FlaskForm):
    class Meta:
        csrf = False

    quantity = StringField("Actual quantity", validators=[Optional(), Length(max=20)])
    outcome = SelectField("Outcome", choices=options([("cleared", "Cleared"), ("refused", "Refused"),
                                                      ("seized", "Seized")]))
    marks = TextAreaField("Microchips (entry) or registry numbers (exit), one per line",
                          validators=[Optional(), Length(max=5000)])


class EndorsementForm(FlaskForm):
    port = StringField("Port", validators=[DataRequired(), Length(max=200)])
    endorsed_on = DateField("Date", validators=[Optional()])
    transport_doc = StringField("Air waybill or bill of lading No.", validators=[DataRequired(), Length(max=100)])
    seizure_facility_id = SelectField("Facility for seized animals", coerce=str, validators=[Optional()])
    lines = FieldList(FormField(EndorsedLineForm))
