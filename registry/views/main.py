from collections.abc import Sequence

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import func, select

from registry import clock
from registry.extensions import db
from registry.machines import ANIMAL, PERMIT, PermitState
from registry.models import Animal, Permit
from registry.permissions import has_capability, visible_animals, visible_permits
from registry.services import deadlines, transfers
from registry.views.helpers import require_actor

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def home():
    """Each role's starting page: counts by state in their scope, and what waits for them."""
    actor = require_actor()
    animal_counts = dict(
        db.session.execute(visible_animals(actor, select(Animal.state, func.count()).group_by(Animal.state))).all()
    )
    permit_counts = dict(
        db.session.execute(visible_permits(actor, select(Permit.state, func.count()).group_by(Permit.state))).all()
    )
    waiting: Sequence[Permit] = ()
    if has_capability(actor, "permit.review"):
        waiting = db.session.scalars(
            visible_permits(
                actor,
                select(Permit)
                .where(Permit.state.in_((PermitState.SUBMITTED, PermitState.APPROVED)))
                .order_by(Permit.submitted_at)
                .limit(20),
            )
        ).all()
    elif has_capability(actor, "permit.apply"):
        waiting = db.session.scalars(
            visible_permits(
                actor,
                select(Permit).where(Permit.state.in_((PermitState.DRAFT, PermitState.CHANGES_REQUESTED))).limit(20),
            )
        ).all()
    due = (
        deadlines.items(actor)
        if has_capability(actor, "animal.read_all") or has_capability(actor, "animal.read_own")
        else []
    )
    late = sum(1 for item in due if item.overdue(clock.today()))
    offers = (
        transfers.pending_for(actor)
        if has_capability(actor, "transfer.answer") or has_capability(actor, "transfer.acknowledge")
        else []
    )
    return render_template(
        "home.html",
        animal_counts=animal_counts,
        permit_counts=permit_counts,
        waiting=waiting,
        animal_machine=ANIMAL,
        permit_machine=PERMIT,
        due=len(due),
        late=late,
        offers=offers,
    )
