"""Installation reports (procès-verbal d'installation), one stream per report (`installation-<id>`).

Seed 004: every deployment at an end user is reported with the mandatory NF525 elements; new
installations use the current certified version on compatible hardware, by an approved integrator.
A report that fails any of these is refused with every reason at once, so the integrator fixes
everything in one go; nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from contracts.errors import CommandRefused, OutOfOrder
from contracts.events import DomainEvent
from contracts.events.support import InstallationReported

#: The mandatory elements the report attests (NF525 / article 286 I-3° bis CGI: inalterability,
#: security, conservation and archiving of the sales data; plus what seed 004 asks of the
#: integrator: the installation procedure followed, the prerequisites checked, the certificate given).
NF525_CHECKLIST: tuple[str, ...] = (
    "inalterability",
    "security",
    "conservation",
    "archiving",
    "installation_procedure_followed",
    "prerequisites_checked",
    "certificate_handed_to_user",
)


def stream_id(report_id: UUID) -> str:
    return f"installation-{report_id}"


def report_installation(
    *,
    already_reported: bool,
    report_id: UUID,
    integrator_approved: bool,
    version: str,
    version_withdrawn: bool,
    current_certified_version: str | None,
    end_user_site: str,
    hardware_compatible: bool,
    nf525_checklist: Mapping[str, bool],
    by: str,
) -> list[DomainEvent]:
    if already_reported:
        raise OutOfOrder("this report is already recorded", field="report_id")
    problems: list[tuple[str, str, str]] = []  # (field, code, sentence)
    if not integrator_approved:
        problems.append(("integrator_id", "integrator_not_approved", "the integrator is not approved"))
    if version_withdrawn:
        problems.append(("version", "version_withdrawn", f"version {version} was withdrawn"))
    elif version != current_certified_version:
        current = current_certified_version or "none"
        problems.append(
            ("version", "version_not_current", f"{version} is not the current certified version ({current})")
        )
    if not end_user_site.strip():
        problems.append(("end_user_site", "empty", "the end user's site is empty"))
    if not hardware_compatible:
        problems.append(
            ("hardware_compatible", "hardware_not_compatible", "the hardware is not confirmed compatible")
        )
    unknown = sorted(set(nf525_checklist) - set(NF525_CHECKLIST))
    if unknown:
        problems.append(("nf525_checklist", "unknown_element", f"unknown elements: {', '.join(unknown)}"))
    unchecked = [item for item in NF525_CHECKLIST if not nf525_checklist.get(item, False)]
    if unchecked:
        problems.append(("nf525_checklist", "element_missing", f"not attested: {', '.join(unchecked)}"))
    if problems:
        field, code, _ = problems[0]
        raise InstallationRefused(
            "; ".join(p[2] for p in problems), field=field, code=code, problems=problems
        )
    return [
        InstallationReported(
            report_id=report_id,
            end_user_site=end_user_site,
            version=version,
            hardware_compatible=hardware_compatible,
            nf525_checklist=dict(nf525_checklist),
            reported_by=by,
        )
    ]


class InstallationRefused(CommandRefused):
    """Every reason the report is refused; `field`/`code` name the first."""

    def __init__(self, detail: str, *, field: str, code: str, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(detail, field=field, code=code)
        self.problems = problems
