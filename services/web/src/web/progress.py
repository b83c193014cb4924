"""Where an integrator stands in seed 000's onboarding, from the services' status answers: pure.

In: onboarding's status row (GET /integrators/{id}), sim-logistics' SIM timeline (GET .../sims, None
before step 2) and the ISM status (GET .../ism, None before a table reached it), and the time now.
Out: the steps in process order (dossier, step 1 electrical profile, step 2 test SIMs, step 3
production and delivery, ISM, GO), each done / current / waiting, with its deadline, whether it is
late, and what is pending on whom (the integrator or the vendor).

The web front holds no business rule: every fact here is what a service answered (the step, the
deadlines, the go-live gaps); this only arranges them for a person to read. Several steps may be
current at once (the dossier and the ISM tables run beside the SIM steps), as in the seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from web.i18n import N_, _, pgettext, when

Row = Mapping[str, Any]


class State(StrEnum):
    DONE = "done"
    CURRENT = "current"
    WAITING = "waiting"


class Owner(StrEnum):
    INTEGRATOR = "integrator"
    VENDOR = "vendor"


#: The dossier items in the seed's order (onboarding's DossierItem values).
DOSSIER_ITEMS: tuple[str, ...] = (
    "electrical_profile_sheet",
    "sim_artwork",
    "offers_table",
    "tariffs_metropolitan",
    "tariffs_international",
    "terminals_table",
    "logo",
    "footer_banner",
    "arcep_declaration",
    "invoice_sender_email",
)
#: The ISM's tables, as ism-provisioning names them (the dossier items they come from).
ISM_TABLES: tuple[str, ...] = (
    "offers_table",
    "tariffs_metropolitan",
    "tariffs_international",
    "terminals_table",
)
#: Where the integrator acts on each step.
PAGES = {
    "dossier": "/portal/dossier",
    "electrical_profile": "/portal/dossier#electrical_profile_sheet",
    "test_sims": "/portal/sims",
    "production": "/portal/sims#production",
    "ism": "/portal/dossier",
    "go_live": None,
}


@dataclass(frozen=True)
class Pending:
    """One thing still to be done, by whom. `code` names it; `params` fill its sentence."""

    owner: Owner
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    key: str
    state: State
    due_at: datetime | None = None
    overdue: bool = False
    pending: tuple[Pending, ...] = ()

    @property
    def href(self) -> str | None:
        return PAGES.get(self.key)


def _at(value: Any) -> datetime | None:
    if not value:
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _state(done: bool, started: bool) -> State:
    return State.DONE if done else State.CURRENT if started else State.WAITING


def _late(state: State, due_at: datetime | None, flagged: bool, now: datetime) -> bool:
    """Late while the step runs: the service flagged it, or its deadline is already behind us (the
    service's deadline scan may not have run yet — the person should not read "on time" then)."""
    if state is State.DONE:
        return False
    return flagged or (due_at is not None and state is State.CURRENT and now > due_at)


def _item_pending(item: str, entry: Row) -> Pending | None:
    status = entry.get("status", "missing")
    if status == "missing":
        return Pending(Owner.INTEGRATOR, "send_item", {"item": item})
    if status == "rejected":
        return Pending(
            Owner.INTEGRATOR, "send_item_again", {"item": item, "reason": entry.get("reason") or ""}
        )
    if status == "submitted":
        return Pending(Owner.VENDOR, "review_item", {"item": item})
    return None


def dossier_step(status: Row) -> Step:
    """Every item but the configuration sheet (that one is step 1's, and cannot be sent before it)."""
    dossier = status.get("dossier") or {}
    pending = [
        p
        for item in DOSSIER_ITEMS
        if item != "electrical_profile_sheet"
        and (p := _item_pending(item, dossier.get(item) or {"status": "missing"})) is not None
    ]
    return Step("dossier", State.DONE if not pending else State.CURRENT, pending=tuple(pending))


def profile_step(status: Row) -> Step:
    done = status.get("profile_reference") is not None
    pending: list[Pending] = []
    if not done:
        sheet = (status.get("dossier") or {}).get("electrical_profile_sheet") or {"status": "missing"}
        if not status.get("configuration_sheet_sent") and not status.get("profile_received"):
            pending.append(Pending(Owner.VENDOR, "send_configuration_sheet"))
        elif sheet.get("status") in ("missing", "rejected"):
            pending.append(_item_pending("electrical_profile_sheet", sheet))  # type: ignore[arg-type]
        else:
            pending.append(Pending(Owner.VENDOR, "create_electrical_profile"))
    return Step("electrical_profile", _state(done, True), pending=tuple(pending))


def _milestones(status: Row) -> set[str]:
    return set(status.get("milestones") or ())


def sims_step(status: Row, sims: Row | None, now: datetime) -> Step:
    milestones = _milestones(status)
    done = "production_ordered" in milestones or bool(
        sims and sims.get("current_step") in ("production", "delivered")
    )
    started = status.get("profile_reference") is not None or sims is not None
    state = _state(done, started)
    timing = ((sims or {}).get("steps") or {}).get("test_sims") or {}
    due_at = _at(timing.get("due_at") or (status.get("due_at") or {}).get("test_sims"))
    flagged = bool(timing.get("overdue")) or "test_sims" in (status.get("overdue_steps") or ())
    pending: list[Pending] = []
    if state is State.CURRENT:
        tests = (sims or {}).get("test_sims") or {}
        if not tests.get("shipments"):
            pending.append(Pending(Owner.VENDOR, "ship_test_sims"))
        elif tests.get("outcome") == "rejected":
            pending.append(Pending(Owner.VENDOR, "ship_new_test_sims"))
        elif not tests.get("received"):
            pending.append(Pending(Owner.INTEGRATOR, "confirm_test_sims"))
        elif not tests.get("call"):
            pending.append(Pending(Owner.INTEGRATOR, "book_call"))
        elif tests.get("outcome") is None:
            pending.append(Pending(Owner.VENDOR, "hold_call", {"at": _at(tests["call"].get("starts_at"))}))
        else:
            artwork = (status.get("dossier") or {}).get("sim_artwork") or {"status": "missing"}
            if artwork.get("status") != "accepted":
                pending.append(_item_pending("sim_artwork", artwork) or Pending(Owner.VENDOR, "review_item"))
            pending.append(Pending(Owner.INTEGRATOR, "order_production"))
    return Step("test_sims", state, due_at, _late(state, due_at, flagged, now), tuple(pending))


def production_step(status: Row, sims: Row | None, now: datetime) -> Step:
    production = (sims or {}).get("production") or {}
    delivered = production.get("delivery") is not None or "sims_delivered" in _milestones(status)
    done = delivered and bool(production.get("reception_confirmed"))
    started = "production_ordered" in _milestones(status) or production.get("quantity") is not None
    state = _state(done, started)
    timing = ((sims or {}).get("steps") or {}).get("production") or {}
    due_at = _at(timing.get("due_at") or (status.get("due_at") or {}).get("production"))
    flagged = bool(timing.get("overdue") and not timing.get("completed_at"))
    flagged = flagged or ("production" in (status.get("overdue_steps") or ()) and not delivered)
    pending: list[Pending] = []
    if state is State.CURRENT:
        if not delivered:
            code = "deliver_sims" if production.get("started") else "start_production"
            pending.append(Pending(Owner.VENDOR, code))
        else:
            if not production.get("delivery_note_sent"):
                pending.append(Pending(Owner.VENDOR, "send_delivery_note"))
            pending.append(Pending(Owner.INTEGRATOR, "confirm_sims"))
    # The deadline is for the delivery: once delivered, confirming reception is not late.
    late = _late(State.DONE if delivered else state, due_at, flagged, now)
    return Step("production", state, due_at, late, tuple(pending))


def ism_step(status: Row, ism: Row | None) -> Step:
    done = bool(ism and ism.get("delivery")) or "ism_delivered" in _milestones(status)
    started = ism is not None or status.get("step") in ("ism", "live")
    state = _state(done, started)
    pending: list[Pending] = []
    if ism is not None and not done:
        for table in ism.get("missing_tables") or ():
            pending.append(Pending(Owner.INTEGRATOR, "send_table", {"item": table}))
        if ism.get("errors"):
            pending.append(Pending(Owner.INTEGRATOR, "fix_tables", {"count": len(ism["errors"])}))
        if not ism.get("logo_reference"):
            pending.append(Pending(Owner.INTEGRATOR, "logo_for_ism"))
        if not ism.get("sims_delivered"):
            pending.append(Pending(Owner.VENDOR, "ism_waits_for_sims"))
        if not pending:
            code = "deliver_ism" if ism.get("ready_for_delivery") else "configure_ism"
            pending.append(Pending(Owner.VENDOR, code))
    elif state is State.CURRENT:
        pending.append(Pending(Owner.INTEGRATOR, "send_table", {"item": ISM_TABLES[0]}))
    if done and ism is not None and not ism.get("password_set"):
        pending.append(Pending(Owner.INTEGRATOR, "set_ism_password"))
    return Step("ism", state, pending=tuple(pending))


def go_live_step(status: Row, before: Sequence[Step]) -> Step:
    done = bool(status.get("live"))
    started = all(s.state is State.DONE for s in before if s.key in ("electrical_profile", "test_sims"))
    state = _state(done, started)
    pending: list[Pending] = []
    if not done:
        for gap in status.get("missing_for_go_live") or ():
            if gap.startswith("dossier."):
                pending.append(Pending(Owner.INTEGRATOR, "accepted_item_for_go_live", {"item": gap[8:]}))
            else:
                pending.append(Pending(Owner.VENDOR, "go_live_condition", {"condition": gap}))
    return Step("go_live", state, pending=tuple(pending))


def steps(status: Row, sims: Row | None, ism: Row | None, now: datetime) -> list[Step]:
    """The onboarding of one integrator, step by step, as the services tell it."""
    first = [
        dossier_step(status),
        profile_step(status),
        sims_step(status, sims, now),
        production_step(status, sims, now),
        ism_step(status, ism),
    ]
    return [*first, go_live_step(status, first)]


# --- words ------------------------------------------------------------------------------------------


def step_title(key: str) -> str:
    titles = {
        "dossier": _("Dossier"),
        "electrical_profile": _("Step 1 — electrical profile"),
        "test_sims": _("Step 2 — test SIMs"),
        "production": _("Step 3 — production and delivery"),
        "ism": _("ISM platform"),
        "go_live": _("GO: live"),
        # onboarding's own step names (its `step` field)
        "registered": _("Registered"),
        "live": _("GO: live"),
    }
    return titles.get(key, key)


def state_label(state: State | str) -> str:
    return {"done": _("Done"), "current": _("In progress"), "waiting": _("Not started")}.get(
        str(state), str(state)
    )


def owner_label(owner: Owner | str) -> str:
    return {"integrator": _("You"), "vendor": _("The vendor")}.get(str(owner), str(owner))


#: Each dossier item's label, and the gender and number of that label in French ("fs": feminine
#: singular, "mp": masculine plural...): the words that agree with the item come from the catalogue
#: under that form's context (`item_state`). Declared once, here, for the portal and the console.
ITEMS: dict[str, tuple[str, str]] = {
    "electrical_profile_sheet": (N_("Electrical profile configuration sheet"), "fs"),
    "sim_artwork": (N_("SIM artwork"), "fs"),
    "offers_table": (N_("Offers table"), "ms"),
    "tariffs_metropolitan": (N_("Metered tariffs, metropolitan France"), "mp"),
    "tariffs_international": (N_("International tariffs"), "mp"),
    "terminals_table": (N_("Mobile terminals table"), "ms"),
    "logo": (N_("Logo"), "ms"),
    "footer_banner": (N_("Invoice footer banner"), "ms"),
    "arcep_declaration": (N_("ARCEP declaration"), "fs"),
    "invoice_sender_email": (N_("Invoice sender email"), "fs"),
}


def item_label(item: str) -> str:
    return _(ITEMS[item][0]) if item in ITEMS else item


def item_state(item: str, status: str) -> str:
    """An item's state in words that agree with it: "Déclaration ARCEP — Acceptée", "Logo — Accepté"."""
    form = ITEMS[item][1] if item in ITEMS else "ms"
    words = {
        "ms": {
            "missing": lambda: pgettext("dossier item, masculine singular", "Missing"),
            "submitted": lambda: pgettext("dossier item, masculine singular", "Sent, under review"),
            "accepted": lambda: pgettext("dossier item, masculine singular", "Accepted"),
            "rejected": lambda: pgettext("dossier item, masculine singular", "Refused"),
        },
        "fs": {
            "missing": lambda: pgettext("dossier item, feminine singular", "Missing"),
            "submitted": lambda: pgettext("dossier item, feminine singular", "Sent, under review"),
            "accepted": lambda: pgettext("dossier item, feminine singular", "Accepted"),
            "rejected": lambda: pgettext("dossier item, feminine singular", "Refused"),
        },
        "mp": {
            "missing": lambda: pgettext("dossier item, masculine plural", "Missing"),
            "submitted": lambda: pgettext("dossier item, masculine plural", "Sent, under review"),
            "accepted": lambda: pgettext("dossier item, masculine plural", "Accepted"),
            "rejected": lambda: pgettext("dossier item, masculine plural", "Refused"),
        },
    }[form]
    return words[status]() if status in words else status


def detail_label(name: str) -> str:
    """A value declared with a dossier item, by its label (not its field key)."""
    return {
        "footer_text": _("Banner text"),
        "sent_on": _("Date sent to ARCEP"),
        "receipt_received_on": _("Date of the ARCEP receipt"),
        "email": _("Email address"),
    }.get(name, name)


def condition_label(condition: str) -> str:
    labels = {
        "electrical_profile_created": _("the electrical profile is created"),
        "sims_validated": _("the test SIMs are validated"),
        "sims_delivered": _("the SIMs are delivered"),
        "ism_delivered": _("the ISM is delivered"),
    }
    return labels.get(condition, condition)


def describe(pending: Pending) -> str:
    """The pending thing as a sentence, in the reader's language."""
    p = pending.params
    item = item_label(str(p.get("item", "")))
    sentences = {
        "send_item": lambda: _("To send: %(item)s.", item=item),
        "send_item_again": lambda: _(
            "To send again: %(item)s (refused: %(reason)s).", item=item, reason=p["reason"]
        ),
        "review_item": lambda: _("To review: %(item)s.", item=item),
        "send_configuration_sheet": lambda: _("Send you the configuration sheet to fill in."),
        "create_electrical_profile": lambda: _("Create your electrical profile from the sheet you sent."),
        "ship_test_sims": lambda: _("Ship the two test SIMs."),
        "ship_new_test_sims": lambda: _("Ship new test SIMs (the last ones were refused)."),
        "confirm_test_sims": lambda: _("Confirm you received the test SIMs."),
        "book_call": lambda: _("Book the validation call."),
        "hold_call": lambda: _(
            "Hold the validation call (%(at)s) and record its outcome.", at=when(p.get("at"), "short")
        ),
        "order_production": lambda: _("Place the SIM production order."),
        "start_production": lambda: _("Start the production of your SIMs."),
        "deliver_sims": lambda: _("Deliver your SIMs."),
        "send_delivery_note": lambda: _("Send the delivery note with the tariff grid."),
        "confirm_sims": lambda: _("Confirm you received the SIMs."),
        "send_table": lambda: _("To send for the ISM: %(item)s.", item=item),
        "fix_tables": lambda: _(
            "Fix the problems the ISM found in your tables (%(count)s).", count=p["count"]
        ),
        "logo_for_ism": lambda: _("Have your logo accepted: the ISM shows it."),
        "ism_waits_for_sims": lambda: _("Deliver your SIMs: the ISM is delivered after them."),
        "configure_ism": lambda: _("Configure the ISM from your tables."),
        "deliver_ism": lambda: _("Deliver the ISM."),
        "set_ism_password": lambda: _("Set your ISM password with the link you received by email."),
        "accepted_item_for_go_live": lambda: _("To be accepted: %(item)s.", item=item),
        "go_live_condition": lambda: _(
            "Waiting until %(condition)s.", condition=condition_label(p["condition"])
        ),
    }
    sentence = sentences.get(pending.code)
    return sentence() if sentence else pending.code
