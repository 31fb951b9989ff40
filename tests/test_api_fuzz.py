"""Schemathesis over the whole OpenAPI document, as each role: no server error, nothing undocumented.

Driven directly rather than through schemathesis' pytest plugin, which does not run on pytest 9.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from registry.extensions import limiter
from registry.services import exchange, tokens
from tests.helpers import animal_in, permit_in

ROLES = ("admin", "officer", "customs", "zoo", "auditor")


@pytest.mark.slow
def test_every_operation_as_every_role(app, session, world, monkeypatch):
    # Real objects, so that generated ids sometimes hit something.
    animal_in(world, "in_captivity")
    permit_in(world, "submitted")
    role_tokens = {r: tokens.create_token(world.operator, world.users[r].id, "fuzz")[1] for r in ROLES}
    # Partner authorities' tokens too: the exchange answers only them, every other operation 401.
    for country, role in (("KR", "customs"), ("ZA", "management_authority")):
        partner = exchange.add_partner(world.operator, country, f"{country} {role}", role)
        role_tokens[f"partner {country}"] = exchange.issue_token(world.operator, partner.id, "fuzz")[1]
    monkeypatch.setattr(limiter, "enabled", False)  # the partners' limits would answer 429 first
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
            database=None,
        )
        def check(case):
            for role in role_tokens:
                # Every conformance check runs. Left out: the heuristic that schema-valid input must be
                # accepted, because the registry's rules (an id that names no party, a country outside
                # ISO 3166, a CITES document rule) answer a documented 422 that no schema can foresee.
                case.call_and_validate(
                    headers={"Authorization": f"Bearer {role_tokens[role]}"}, excluded_checks=[positive_data_acceptance]
                )

        check()
