"""`handles` names event classes: a misspelt event fails when the service is imported, not silently."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from chassis.consumer import Reaction
from chassis.projections import Projection
from contracts import topics
from contracts.events.onboarding import IntegratorRegistered, OnboardingEvent
from contracts.events.sim_logistics import SimsDelivered

SERVICES = ("onboarding", "sim_logistics", "ism_provisioning", "support", "notifier", "web")


async def nothing(ctx, rec) -> None:
    pass


def reaction(handles, topic_list=(topics.ONBOARDING,)) -> Reaction:
    return Reaction(name="welcome", topics=list(topic_list), handles=handles, handler=nothing)


def projection(handles) -> Projection:
    return Projection(name="registrations", handles=handles, key=lambda e, ev: None, apply=lambda r, e, ev: r)


def test_classes_are_kept_as_their_type_names():
    assert reaction({IntegratorRegistered}).handles == frozenset({"IntegratorRegistered"})
    assert projection({IntegratorRegistered}).handles == frozenset({"IntegratorRegistered"})
    # A name the registry knows is still accepted (an event of another service, by name).
    assert reaction({"IntegratorRegistered"}).handles == frozenset({"IntegratorRegistered"})


@pytest.mark.parametrize("build", [reaction, projection])
def test_a_misspelt_name_is_refused_when_built(build):
    with pytest.raises(ValueError, match=r"IntegratorRegistred.*not a registered event"):
        build({IntegratorRegistered, "IntegratorRegistred"})


@pytest.mark.parametrize("build", [reaction, projection])
def test_what_is_not_an_event_is_refused(build):
    with pytest.raises(ValueError, match="OnboardingEvent"):
        build({OnboardingEvent})  # the service's base class: no event has this type
    with pytest.raises(TypeError, match="not an event class"):
        build({int})
    with pytest.raises(TypeError, match="not the string"):
        build("IntegratorRegistered")  # a string is a collection of letters, not of events


def test_a_reaction_that_handles_an_event_of_a_topic_it_does_not_read_is_refused():
    with pytest.raises(ValueError, match=r"\['SimsDelivered'\] but does not read their topics"):
        reaction({IntegratorRegistered, SimsDelivered})
    assert reaction({SimsDelivered}, [topics.SIM_LOGISTICS]).handles == {"SimsDelivered"}


def test_a_misspelt_class_fails_at_import(tmp_path, monkeypatch):
    """The way the services declare them: the module does not import."""
    (tmp_path / "misspelt_reactions.py").write_text(
        textwrap.dedent(
            """
            from chassis.consumer import Reaction
            from contracts import topics
            from contracts.events import onboarding

            async def welcome(ctx, rec):
                pass

            REACTIONS = [
                Reaction(name="welcome", topics=[topics.ONBOARDING],
                         handles={onboarding.IntegratorRegistred}, handler=welcome)
            ]
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AttributeError, match="IntegratorRegistred"):
        importlib.import_module("misspelt_reactions")
    sys.modules.pop("misspelt_reactions", None)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_declares_registered_events(service):
    """The services' reactions and projections were built at import, so their names are checked; each
    handles something."""
    reactions = importlib.import_module(f"{service}.reactions").REACTIONS
    projections = importlib.import_module(f"{service}.projections").PROJECTIONS
    for declared in [*reactions, *projections]:
        assert declared.handles and all(isinstance(t, str) for t in declared.handles), declared.name
