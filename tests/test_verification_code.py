"""The public verification page accepts the printed short code in place of the security token."""

from registry import offline_qr
from tests.helpers import issued_permit

JSON = {"Accept": "application/json"}


def test_the_short_code_verifies_as_the_token_does(client, world):
    permit = issued_permit(world)
    code = offline_qr.verification_code(permit.security_token)
    answer = client.get(f"/verify/{permit.number}", query_string={"code": code}, headers=JSON)
    assert answer.status_code == 200 and answer.json["status"] == "valid" and answer.json["number"] == permit.number
    # As typed by hand: lower case, no dashes, O for 0 and I/L for 1.
    typed = code.replace("-", "").lower().replace("0", "o").replace("1", "l")
    assert client.get(f"/verify/{permit.number}", query_string={"code": typed}, headers=JSON).status_code == 200


def test_the_form_takes_number_and_code(client, world):
    permit = issued_permit(world)
    code = offline_qr.verification_code(permit.security_token)
    form = client.get("/verify")
    assert form.status_code == 200 and 'name="code"' in form.get_data(as_text=True)
    page = client.get("/verify", query_string={"number": permit.number.lower(), "code": code})
    assert page.status_code == 200 and ">valid<" in page.get_data(as_text=True)


def test_a_wrong_code_and_an_unknown_number_answer_the_same(client, world):
    permit = issued_permit(world)
    code = offline_qr.verification_code(permit.security_token)
    other = offline_qr.verification_code("another token")
    answers = [
        client.get(f"/verify/{permit.number}", query_string={"code": other}, headers=JSON),
        client.get("/verify/KR/1999/999999", query_string={"code": code}, headers=JSON),
        client.get(f"/verify/{permit.number}", query_string={"code": ""}, headers=JSON),
        client.get(f"/verify/{permit.number}?t=wrong", headers=JSON),
    ]
    assert {r.status_code for r in answers} == {404}
    assert len({r.get_data() for r in answers}) == 1
    html = [
        client.get("/verify", query_string={"number": permit.number, "code": other}),
        client.get("/verify", query_string={"number": "KR/1999/999999", "code": code}),
    ]
    assert {r.status_code for r in html} == {404}
    assert all("Not found" in r.get_data(as_text=True) for r in html)


def test_codes_share_the_tokens_rate_limit(client, world):
    from registry.extensions import limiter

    limiter.reset()
    statuses = [client.get("/verify/KR/1999/000001?t=x").status_code for _ in range(15)]
    statuses += [
        client.get("/verify", query_string={"number": "KR/1999/1", "code": "x"}).status_code for _ in range(15)
    ]
    statuses.append(client.get("/verify/KR/1999/000001", query_string={"code": "ABCD"}).status_code)
    assert statuses[:30] == [404] * 30 and statuses[30] == 429
    limiter.reset()
