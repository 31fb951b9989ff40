"""The canonical form every entry's hash is taken over: the fast writer gives the defined bytes exactly.

``audit_chain.canonical`` (used to hash and to check a million entries) must give byte for byte what
``canonical_reference`` (``json.dumps`` of the fields, keys sorted) gives, for any entry the log can
hold, or a chain written before would no longer verify.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry import audit_chain

# Text as users type it: Korean, accents, quotes, backslashes, control characters, emoji.
text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from('"\\\n\t\u2028/<>='),
    ),
    max_size=12,
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), text)
payloads = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from([UTC, None])
)
subjects = st.one_of(
    st.none(),
    st.lists(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["animal", "permit", "identifier"]),
                "id": text,
                "prev": st.none() | st.integers(1),
            }
        ),
        max_size=3,
    ),
)


@st.composite
def entries(draw):
    entry = {
        "seq": draw(st.integers(min_value=1, max_value=10**9)),
        "occurred_at": draw(st.one_of(moments, moments.map(audit_chain.format_time))),
        "actor_id": draw(st.none() | st.integers(1, 10**6)),
        "actor_name": draw(text),
        "actor_role": draw(st.sampled_from(["keeper", "officer", "system"])),
        "action": draw(st.sampled_from(["animal.death", "permit.issue", "audit.export"])),
        "object_type": draw(st.sampled_from(["animal", "permit", "audit_export"])),
        "object_id": draw(st.none() | text),
        "before": draw(st.none() | st.dictionaries(text, payloads, max_size=5)),
        "after": draw(st.none() | st.dictionaries(text, payloads, max_size=5)),
        "request_id": draw(st.none() | text),
        "client_addr": draw(st.none() | st.sampled_from(["10.0.0.1", "::1"])),
        "prev_hash": draw(st.sampled_from([audit_chain.GENESIS_HASH, "ab" * 32])),
        "entry_hash": "not hashed",
    }
    chosen = draw(subjects)
    if chosen is not None or draw(st.booleans()):  # entries older than subjects lack the key, or hold None
        entry["subjects"] = chosen
    return entry


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries())
def test_fast_canonical_form_is_the_defined_one(entry):
    assert audit_chain.canonical(entry) == audit_chain.canonical_reference(entry)


@settings(max_examples=150, deadline=None)
@given(entries())
def test_fast_canonical_form_is_the_defined_one_quick(entry):
    assert audit_chain.canonical(entry) == audit_chain.canonical_reference(entry)


def test_known_entries_keep_their_hash():
    """Korean text, None, nested before/after, a time zone other than UTC: pinned hashes."""
    entry = {
        "seq": 7,
        "occurred_at": datetime(2026, 3, 1, 18, 4, 5, 6, tzinfo=timezone(timedelta(hours=9))),
        "actor_id": None,
        "actor_name": "관리자",
        "actor_role": "officer",
        "action": "animal.death",
        "object_type": "animal",
        "object_id": "12",
        "before": {"state": "in_captivity", "details": {"marks": ["칩", None, 3], "ok": True}},
        "after": None,
        "request_id": None,
        "client_addr": "10.0.0.1",
        "prev_hash": audit_chain.GENESIS_HASH,
    }
    assert audit_chain.canonical(entry) == audit_chain.canonical_reference(entry)
    assert b'"occurred_at":"2026-03-01T09:04:05.000006Z"' in audit_chain.canonical(entry)
    # Taken with the implementation before the fast form (commit 3b96340): a stored chain's hashes.
    assert audit_chain.compute_hash(entry) == "e15ccb5204476facea6a636edb9403d62637acd94260d16943a74fcf4a2d2f22"
    assert audit_chain.compute_hash(entry | {"subjects": None}) == audit_chain.compute_hash(entry)
    linked = entry | {"subjects": [{"type": "animal", "id": "12", "prev": None}]}
    assert audit_chain.compute_hash(linked) == "8dd0ca3c66dc0a428f23708220e394cf2be281d1964cc3fd0ae651a5501080e0"


def test_what_the_reference_refuses_the_fast_form_refuses():
    entry = dict.fromkeys(audit_chain.FIELDS) | {"seq": 1, "occurred_at": "x", "prev_hash": "0"}
    for bad in (float("nan"), {1.5j}, object()):
        for form in (audit_chain.canonical, audit_chain.canonical_reference):
            with pytest.raises((TypeError, ValueError)):
                form(entry | {"after": {"v": bad}})
    del entry["action"]
    for form in (audit_chain.canonical, audit_chain.canonical_reference):
        with pytest.raises(KeyError):
            form(entry)
