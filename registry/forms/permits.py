from flask_wtf import FlaskForm
from wtforms import FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry import codes
from registry.forms import options
from registry.i18n import _l
from registry.labels import choices
from registry.models import DOCUMENT_TYPES


class LineForm(FlaskForm):
    class Meta:
        csrf = False

    species_id = SelectField(_l("Species"), coerce=str, validators=[Optional()])
    term_code = SelectField(
        _l("Term"), choices=options([(k, f"{k} - {v}") for k, v in codes.TERMS.items()]), default="LIV"
    )
    quantity = StringField(_l("Quantity"))
    unit_code = SelectField(
        _l("Unit"), choices=options([(k, f"{k or '-'} {v}") for k, v in codes.UNITS.items()]), default=""
    )
    description = StringField(_l("Description, marks"))
    # A line's own codes and origin; left empty, the application's apply.
    source_code = SelectField(
        _l("Source (if not the application's)"),
        choices=options([("", "-")] + [(k, f"{k} - {v}") for k, v in codes.SOURCES.items()]),
        default="",
    )
    purpose_code = SelectField(
        _l("Purpose (if not the application's)"),
        choices=options([("", "-")] + [(k, f"{k} - {v}") for k, v in codes.PURPOSES.items()]),
        default="",
    )
    origin_country = SelectField(_l("Origin (if not the application's)"), coerce=str, validators=[Optional()])
    operation_no = StringField(_l("Registered operation no. (box 12b)"))
    acquired_on = StringField(_l("Date of acquisition (box 12b)"), render_kw={"type": "date"})


class ApplicationForm(FlaskForm):
    """What the page shows; what the application must hold is said once, by
    commands.permits.ApplicationSchema, which the view loads the form's data with."""

    doc_type = SelectField(_l("Document"), choices=options(choices("doc_type", DOCUMENT_TYPES)))
    applicant_party_id = SelectField(_l("Applicant"), coerce=str, validators=[Optional()])
    importer_party_id = SelectField(_l("Importer"), coerce=str, validators=[Optional()])
    exporter_party_id = SelectField(_l("Exporter"), coerce=str, validators=[Optional()])
    import_country = SelectField(_l("Country of import"), coerce=str)
    export_country = SelectField(_l("Country of export"), coerce=str)
    origin_country = SelectField(_l("Country of origin"), coerce=str, validators=[Optional()])
    purpose_code = SelectField(_l("Purpose"), choices=options([(k, f"{k} - {v}") for k, v in codes.PURPOSES.items()]))
    source_code = SelectField(_l("Source"), choices=options([(k, f"{k} - {v}") for k, v in codes.SOURCES.items()]))
    foreign_permit_no = StringField(_l("Exporting country's permit no."))
    foreign_permit_date = StringField(_l("Its date"), render_kw={"type": "date"})
    origin_permit_no = StringField(_l("Country of origin's permit no. (box 12)"))
    origin_permit_date = StringField(_l("Its date (box 12)"), render_kw={"type": "date"})
    reexport_country = SelectField(_l("Country of last re-export (box 12a)"), coerce=str, validators=[Optional()])
    reexport_permit_no = StringField(_l("Its re-export certificate no. (box 12a)"))
    reexport_permit_date = StringField(_l("Its date (box 12a)"), render_kw={"type": "date"})
    lines = FieldList(FormField(LineForm), min_entries=5)
    version = StringField(render_kw={"hidden": True})


class DecisionForm(FlaskForm):
    reason = TextAreaField(_l("Reason or note"))
    special_conditions = TextAreaField(_l("Special conditions (box 5)"))
    override_reason = TextAreaField(_l("Issue although the foreign document is used elsewhere, because"))
    version = StringField(render_kw={"hidden": True})


class DeclareForm(FlaskForm):
    sex = SelectField(_l("Sex"), choices=options(choices("sex", ("U", "M", "F"))))
    microchip = StringField(_l("Microchip (15 digits)"))
