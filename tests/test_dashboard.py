"""Dashboards: the numbers match the register, drawn as SVG with the numbers beside the bars."""

from datetime import timedelta

from registry import charts, clock
from registry.services import dashboard
from tests import uses
from tests.helpers import animal_in


def test_figures_match_the_register(world):
    for _ in range(2):
        animal_in(world, "in_captivity")
    dead = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    f = dashboard.figures()
    states = dict(f["animals_by_state"])
    assert states["In captivity"] == 2 and states["Dead"] == 1
    assert dict(f["animals_by_species"]) == {"Psittacus erithacus": 2}
    month = clock.today().strftime("%Y-%m")
    assert dict(f["deaths_by_month"])[month] == 1 and len(f["deaths_by_month"]) == 12
    assert f["overdue_disposals"] == []
    with clock.on(clock.today() + timedelta(days=dashboard.DISPOSAL_DAYS + 1)):
        assert [a.id for a, _ in dashboard.figures()["overdue_disposals"]] == [dead.id]


def test_svg_chart_escapes_and_labels():
    svg = str(charts.bars([("<b>", 3), ("ok", 1)], "t"))
    assert svg.startswith("<svg") and "&lt;b&gt;" in svg and ">3</text>" in svg and "<script" not in svg


def test_dashboard_page_by_role(client, login, world):
    animal_in(world, "in_captivity")
    for username, status in (("auditor", 200), ("officer", 200), ("zoo", 403), ("customs", 403)):
        login(world.users[username])
        response = client.get("/dashboard/")
        assert response.status_code == status, username
        if status == 200:
            assert response.get_data(as_text=True).count("<svg") == 6


def test_figures_are_counted_by_the_database(world, session):
    """Months are counted with GROUP BY and overdue disposals chosen by the database: no statement
    reads events or permits one row each into Python, however many there are."""
    from registry.extensions import db
    from tests.querycount import count_statements

    dead = animal_in(world, "in_captivity")
    uses.fire(world.actor("zoo"), dead.id, "death", {"cause": "age"})
    with count_statements(db.engine) as seen:
        f = dashboard.figures()
    assert dict(f["deaths_by_month"])[clock.today().strftime("%Y-%m")] == 1
    # (The lapsed permits are listed one by one: a list to act on, not a count.)
    reads = [
        s for s in seen.queries if "animal_event ON" in s or "FROM animal_event" in s or "WHERE permit.valid_from" in s
    ]
    assert reads and all("GROUP BY" in s or "count(" in s for s in reads), "\n\n".join(reads)


def test_overdue_lists_name_a_few_and_count_them_all(client, login, world):
    """A national register has thousands of carcasses awaiting disposal: the dashboard counts them
    all, names the longest overdue, and sends the reader to the deadlines page for the rest."""
    from tests.test_query_counts import add_dead

    add_dead(world, dashboard.LISTED + 3)
    login(world.users["officer"])
    with clock.on(clock.today() + timedelta(days=dashboard.DISPOSAL_DAYS + 2)):
        f = dashboard.figures()
        html = client.get("/dashboard/").get_data(True)
    assert f["overdue_disposals_count"] == dashboard.LISTED + 3
    assert len(f["overdue_disposals"]) == dashboard.LISTED
    assert f"All {dashboard.LISTED + 3} on the deadlines page" in html
    assert "rule=carcass_disposal" in html
