from flask import abort

from registry.extensions import db
from registry.models import User
from registry.permissions import CAPABILITIES, has_capability
from registry.views.api.common import api_blueprint
from registry.views.api.schemas import MeSchema
from registry.views.helpers import require_actor

blp = api_blueprint("api_meta", "The caller")


@blp.get("/me")
@blp.response(200, MeSchema)
def me():
    """Who the token acts for, and what their role may do."""
    actor = require_actor()
    user = db.session.get(User, actor.user_id)
    if user is None:  # the token's account was deleted during the request
        abort(401)
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "party_id": user.party_id,
        "capabilities": sorted(c for c in CAPABILITIES if has_capability(actor, c)),
    }
