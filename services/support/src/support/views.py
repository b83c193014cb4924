"""What support's readers see of the query results: lists, the ticket file as each reader may see
it, the survey page, and the CSV export. Pure functions of plain data (no HTTP, no database).
"""

from __future__ import annotations

from typing import Any

from chassis.exports import csv_text

Row = dict[str, Any]

#: A ticket's summary in lists: what a technician scans before opening the file.
TICKET_SUMMARY = (
    "ticket_id",
    "ticket_number",
    "integrator_id",
    "channel",
    "subject",
    "status",
    "category",
    "severity",
    "technician",
    "opened_at",
)
APPROVED_INTEGRATORS_CSV = ("legal_name", "siret", "address", "approved_at", "with_maintenance_contract")
SURVEY_QUESTION = "How satisfied are you with how your request was handled? (1 = not at all, 5 = very)"


def approved_integrators(approved: list[tuple[Row, Row]]) -> Row:
    """Seed 004's list of approved integrators (approval row, company row), by company name."""
    return {
        "integrators": [
            {
                "integrator_id": row["integrator_id"],
                "legal_name": company.get("legal_name"),
                "approved_at": row["approved_at"],
                "with_maintenance_contract": row["with_maintenance_contract"],
            }
            for row, company in approved
        ]
    }


def approved_integrators_csv(approved: list[tuple[Row, Row]]) -> str:
    """The same list, to distribute: company data only, no employee's name or contact (seed 004:
    the distributable list carries no personal data)."""
    rows = []
    for row, company in approved:
        contract = row["with_maintenance_contract"]
        rows.append(
            [
                company.get("legal_name") or row["integrator_id"],
                company.get("siret", ""),
                company.get("address", ""),
                row["approved_at"],
                "" if contract is None else str(contract).lower(),
            ]
        )
    # Names typed by integrators: no cell may be read as a formula by the spreadsheet that opens it.
    return csv_text(APPROVED_INTEGRATORS_CSV, rows)


def current_release(catalogue: Row) -> Row | None:
    """The current certified version's entry in the catalogue (None when there is none)."""
    current = catalogue["current_certified"]
    if current is None:
        return None
    return next(r for r in catalogue["releases"] if r["version"] == current)


def ticket_list(rows: list[Row], companies: dict[str, Row]) -> Row:
    return {
        "tickets": [
            {
                **{k: r.get(k) for k in TICKET_SUMMARY},
                "integrator_name": companies.get(r["integrator_id"], {}).get("legal_name"),
            }
            for r in rows
        ]
    }


def ticket_file(row: Row, *, for_integrator: bool) -> Row:
    """An integrator never sees internal notes (nor who wrote them). No one gets a survey's token
    id: half of the link's credential, it stays in the service (and in the mailed link)."""
    row = {
        **row,
        "surveys": [{k: v for k, v in s.items() if k != "token_id"} for s in row.get("surveys", [])],
    }
    if not for_integrator:
        return row
    return {**row, "messages": [m for m in row["messages"] if not m["internal"]]}


def survey_page(survey: Row, ticket: Row) -> Row:
    """The survey behind a link: the question, and whether it was already answered."""
    return {
        "question": SURVEY_QUESTION,
        "ticket": {"ticket_id": ticket["ticket_id"], "subject": ticket["subject"]},
        "rating": {"minimum": 1, "maximum": 5},
        "comment": "optional",
        "answered": survey["answered"],
        "expires_at": survey["expires_at"],
    }
