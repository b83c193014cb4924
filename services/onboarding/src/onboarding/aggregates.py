"""Onboarding's aggregate, declared once: how an integrator's stream is named, where its state
starts and how an event changes it (the domain's pure `evolve`). Every handler — HTTP command,
reaction, schedule — loads it through the chassis's unit of work; none folds a history itself."""

from __future__ import annotations

from chassis.unit_of_work import Aggregate
from onboarding import domain

INTEGRATOR = Aggregate("integrator", stream=domain.stream_id, initial=domain.Integrator, evolve=domain.evolve)
