"""Topic names: one topic per producing service, keyed by integrator id."""

from typing import Final

ONBOARDING: Final = "onboarding.events.v1"
SIM_LOGISTICS: Final = "sim-logistics.events.v1"
ISM_PROVISIONING: Final = "ism-provisioning.events.v1"
SUPPORT: Final = "support.events.v1"
NOTIFIER: Final = "notifier.events.v1"
WEB: Final = "web.events.v1"

#: Poison messages of every consumer, with the reason in the headers (P6).
DEAD_LETTERS: Final = "platform.dead-letters.v1"

BY_SERVICE: Final[dict[str, str]] = {
    "onboarding": ONBOARDING,
    "sim-logistics": SIM_LOGISTICS,
    "ism-provisioning": ISM_PROVISIONING,
    "support": SUPPORT,
    "notifier": NOTIFIER,
    "web": WEB,
}

ALL_EVENT_TOPICS: Final = tuple(BY_SERVICE.values())
