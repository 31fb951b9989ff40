"""Forms for animal events, built from one table of fields per event."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FieldList, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from registry.commands.animals import DisposalMethod
from registry.forms import options
from registry.i18n import _l
from registry.labels import choices
from registry.models.animal import IDENTIFIER_KINDS


def _facility():
    return SelectField(_l("Facility"), coerce=str, validators=[Optional()])


def _text(label, area=False):
    return (TextAreaField if area else StringField)(label)


#: The inputs each event takes, beyond the date: what the page shows. What they must hold is said
#: once, by the event's schema (registry.commands.animals), which the view loads them with.
EVENT_FIELDS = {
    "enter": lambda: {"port": _text(_l("Port of entry")), "note": _text(_l("Note"), True)},
    "refuse_entry": lambda: {"reason": _text(_l("Reason"), True)},
    "void": lambda: {"reason": _text(_l("Reason"), True)},
    "register": lambda: {"facility_id": _facility(), "note": _text(_l("Note"), True)},
    "transfer": lambda: {
        "owner_party_id": SelectField(_l("New owner"), coerce=str, validators=[Optional()]),
        "facility_id": _facility(),
        "note": _text(_l("Note"), True),
    },
    "death": lambda: {
        "cause": _text(_l("Cause of death"), True),
        "disease_suspected": BooleanField(_l("A disease is suspected")),
        "note": _text(_l("Note"), True),
    },
    "dispose": lambda: {
        "method": SelectField(_l("Method"), choices=options(choices("disposal", list(DisposalMethod)))),
        "handler": _text(_l("Contractor or recipient")),
        "licence_no": _text(_l("Licence number")),
        "place": _text(_l("Place")),
        "witness": _text(_l("Witness")),
        "note": _text(_l("Note"), True),
    },
    "export": lambda: {
        "permit_id": SelectField(_l("Export permit"), coerce=str, validators=[Optional()]),
        "port": _text(_l("Port of exit")),
    },
    "report_missing": lambda: {"circumstances": _text(_l("Circumstances"), True)},
    "recover": lambda: {"facility_id": _facility(), "note": _text(_l("Note"), True)},
    "declare_dead": lambda: {"reason": _text(_l("Reason"), True)},
    "seize": lambda: {"facility_id": _facility(), "reason": _text(_l("Reason"), True)},
    "return": lambda: {"facility_id": _facility(), "note": _text(_l("Note"), True)},
    "forfeit": lambda: {"note": _text(_l("Note"), True)},
    "approve_donation": lambda: {
        "recipient": _text(_l("Museum or research institute")),
        "note": _text(_l("Note"), True),
    },
}


def event_form(event: str, **kwargs) -> FlaskForm:
    fields = EVENT_FIELDS[event]()
    form_class = type(
        f"{event.title()}Form",
        (FlaskForm,),
        {
            "occurred_on": DateField(_l("Date it happened"), validators=[Optional()]),
            "version": HiddenField(),
            **fields,
        },
    )
    return form_class(**kwargs)


class IdentifierEntry(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField(
        _l("Kind"), choices=options([("", "-")] + choices("identifier", IDENTIFIER_KINDS)), validators=[Optional()]
    )
    value = StringField(_l("Value"))


class BirthForm(FlaskForm):
    species_id = SelectField(_l("Species"), coerce=str)
    facility_id = SelectField(_l("Facility"), coerce=str)
    sire_id = SelectField(_l("Sire (father)"), coerce=str, validators=[Optional()])
    dam_id = SelectField(_l("Dam (mother)"), coerce=str, validators=[Optional()])
    birth_date = DateField(_l("Birth or hatch date"), validators=[Optional()])
    birth_date_estimated = BooleanField(_l("The date is estimated"))
    sex = SelectField(_l("Sex"), choices=options(choices("sex", ("U", "M", "F"))))
    source_code = SelectField(
        _l("Source"), choices=options([("C", _l("C - bred in captivity")), ("F", _l("F - born in captivity"))])
    )
    name = StringField(_l("House name"))
    identifiers = FieldList(FormField(IdentifierEntry), min_entries=2)


class IdentifierForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=options(choices("identifier", IDENTIFIER_KINDS)))
    value = StringField(_l("Value"))
    applied_on = DateField(_l("Applied on"), validators=[Optional()])
    note = StringField(_l("Note"))
