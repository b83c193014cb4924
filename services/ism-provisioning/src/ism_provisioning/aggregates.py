"""The ISM's aggregate, declared once: an integrator's ISM account — how its stream is named, where
its state starts and how an event changes it (the domain's pure `evolve`). Every handler — HTTP
command, reaction, schedule — loads it through the chassis's unit of work."""

from __future__ import annotations

from chassis.unit_of_work import Aggregate
from ism_provisioning import domain

ISM_ACCOUNT = Aggregate(
    "ism_account", stream=domain.stream_id, initial=domain.IsmAccount, evolve=domain.evolve
)
