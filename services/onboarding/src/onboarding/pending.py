"""What an integrator's onboarding waits for, and on whom: the vendor (ops) or the integrator.

Pure, from the `onboarding_status` row's facts; the projection stores the result so the integrators
board filters on it in SQL (`waiting_on`) instead of reading every row. Only what onboarding knows:
its dossier, step 1, and the milestones the other services told it of.
"""

from __future__ import annotations

from typing import Any

from contracts.events.common import DossierItem, OnboardingStep
from onboarding.domain import GO_LIVE_ITEMS, Milestone

VENDOR = "vendor"
INTEGRATOR = "integrator"

#: Per step, the milestone that closes it and who must act for it (the seed's process).
_STEP_WORK: dict[str, tuple[Milestone, str, str]] = {
    OnboardingStep.TEST_SIMS.value: (Milestone.SIMS_VALIDATED, "test_sims_validation", VENDOR),
    OnboardingStep.PRODUCTION.value: (Milestone.SIMS_DELIVERED, "sims_delivery", VENDOR),
    OnboardingStep.ISM.value: (Milestone.ISM_DELIVERED, "ism_delivery", VENDOR),
}


def pending(row: dict[str, Any]) -> list[dict[str, str]]:
    """[{"what": ..., "on": "vendor" | "integrator"}] in process order; empty once live."""
    if row.get("live"):
        return []
    out: list[dict[str, str]] = []
    if not row["configuration_sheet_sent"] and not row["profile_received"]:
        out.append({"what": "configuration_sheet", "on": VENDOR})
    elif row["profile_reference"] is None:
        if row["profile_received"]:
            out.append({"what": "electrical_profile", "on": VENDOR})
        else:
            out.append({"what": "electrical_profile_sheet", "on": INTEGRATOR})
    work = _STEP_WORK.get(row.get("step", ""))
    if work is not None and work[0].value not in row["milestones"]:
        out.append({"what": work[1], "on": work[2]})
    required = {i.value for i in GO_LIVE_ITEMS}
    for item in DossierItem:
        status = row["dossier"][item.value]["status"]
        if status == "submitted":
            out.append({"what": f"review:{item.value}", "on": VENDOR})
        elif status in ("missing", "rejected") and item.value in required:
            out.append({"what": f"submit:{item.value}", "on": INTEGRATOR})
    return out


def waiting_on(items: list[dict[str, str]]) -> list[str]:
    return sorted({p["on"] for p in items})
