"""Onboarding's business gauges for ops (chassis.metrics): integrators per step, and overdue.

Read from the status read model by the chassis's refresh task: one grouped query over its indexed
step and overdue flag. Every step is exported, at 0 when empty, so a funnel panel keeps its shape.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from chassis.runtime import ServiceRuntime
from contracts.events.common import OnboardingStep


async def onboarding_gauges(runtime: ServiceRuntime) -> Iterable[Metric]:
    rows = await runtime.pool.fetch(
        "SELECT data->>'step' AS step, count(*) AS integrators, "
        "count(*) FILTER (WHERE (data->>'overdue')::boolean) AS overdue "
        "FROM onboarding_status GROUP BY 1"
    )
    integrators = GaugeMetricFamily(
        "onboarding_integrators", "Integrators at each onboarding step (the funnel).", labels=["step"]
    )
    overdue = GaugeMetricFamily(
        "onboarding_integrators_overdue",
        "Integrators whose current step ran past its deadline, by step.",
        labels=["step"],
    )
    counts = {step.value: (0, 0) for step in OnboardingStep}
    counts.update({row["step"]: (row["integrators"], row["overdue"]) for row in rows})
    for step, (total, late) in counts.items():
        integrators.add_metric([step], float(total))
        overdue.add_metric([step], float(late))
    return [integrators, overdue]
