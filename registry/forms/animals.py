"""Forms for animal events, built from one table of fields per event."""
from flask_wtf import FlaskForm
from registry.forms import options
from wtforms import BooleanField, DateField, FieldList, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from registry.models.animal import IDENTIFIER_KINDS
from registry.services.animals import DISPOSAL_METHODS


def _facility():
    return SelectField("Facility", coerce=str, validators=[Optional()])


def _text(label, area=False):
    return (TextAreaField if area else StringField)(label, validators=[Optional(), Length(max=2000)])


#: The inputs each event takes, beyond the date; the service checks them again.
EVENT_FIELDS = {
    "enter": lambda: {"port": _text("Port of entry"), "note": _text("Note", True)},
    "refuse_entry": lambda: {"reason": _text("Reason", True)},
    "void": lambda: {"reason": _text("Reason", True)},
    "register": lambda: {"facility_id": _facility(), "note": _text("Note", True)},
    "transfer": lambda: {"owner_party_id": SelectField("New owner", coerce=str, validators=[Optional()]),
                         "facility_id": _facility(), "note": _text("Note", True)},
    "death": lambda: {"cause": _text("Cause of death", True),
                      "disease_suspected": BooleanField("A disease is suspected"), "note": _text("Note", True)},
    "dispose": lambda: {"method": SelectField("Method", choices=options([(m, m.title()) for m in DISPOSAL_METHODS])),
                        "handler": _text("Contractor or recipient"), "licence_no": _text("Licence number"),
                        "place": _text("Place"), "witness": _text("Witness"), "note": _text("Note", True)},
    "export": lambda: {"permit_id": SelectField("Export permit", coerce=str, validators=[Optional()]),
                       "port": _text("Port of exit")},
    "report_missing": lambda: {"circumstances": _text("Circumstances", True)},
    "recover": lambda: {"facility_id": _facility(), "note": _text("Note", True)},
    "declare_dead": lambda: {"reason": _text("Reason", True)},
    "seize": lambda: {"facility_id": _facility(), "reason": _text("Reason", True)},
    "return": lambda: {"facility_id": _facility(), "note": _text("Note", True)},
    "forfeit": lambda: {"note": _text("Note", True)},
}


def event_form(event: str, **kwargs) -> FlaskForm:
    fields = EVENT_FIELDS[event]()
    form_class = type(f"{event.title()}Form", (FlaskForm,), {
        "occurred_on": DateField("Date it happened", validators=[Optional()]),
        "version": HiddenField(),
        **fields,
    })
    return form_class(**kwargs)


class IdentifierEntry(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField("Kind", choices=options([("", "-")] + [(k, k.replace("_", " ")) for k in IDENTIFIER_KINDS]),
                       validators=[Optional()])
    value = StringField("Value", validators=[Optional(), Length(max=150)])


class BirthForm(FlaskForm):
    species_id = SelectField("Species", coerce=str)
    facility_id = SelectField("Facility", coerce=str)
    sire_id = SelectField("Sire (father)", coerce=str, validators=[Optional()])
    dam_id = SelectField("Dam (mother)", coerce=str, validators=[Optional()])
    birth_date = DateField("Birth or hatch date", validators=[Optional()])
    birth_date_estimated = BooleanField("The date is estimated")
    sex = SelectField("Sex", choices=options([("U", "Unknown"), ("M", "Male"), ("F", "Female")]))
    source_code = SelectField("Source", choices=options([("C", "C - bred in captivity"), ("F", "F - born in captivity")]))
    name = StringField("House name", validators=[Optional(), Length(max=100)])
    identifiers = FieldList(FormField(IdentifierEntry), min_entries=2)


class IdentifierForm(FlaskForm):
    kind = SelectField("Kind", choices=options([(k, k.replace("_", " ")) for k in IDENTIFIER_KINDS]))
    value = StringField("Value", validators=[Length(min=1, max=150)])
    applied_on = DateField("Applied on", validators=[Optional()])
    note = StringField("Note", validators=[Optional(), Length(max=500)])
