"""Sim-logistics' aggregate, declared once: an integrator's SIM process (steps 2 and 3) — how its
stream is named, where its state starts and how an event changes it (the domain's pure `evolve`).
Every handler — HTTP command, reaction, schedule — loads it through the chassis's unit of work."""

from __future__ import annotations

from chassis.unit_of_work import Aggregate
from sim_logistics import domain

SIM_PROCESS = Aggregate(
    "sim_process", stream=domain.stream_id, initial=domain.SimProcess, evolve=domain.evolve
)
