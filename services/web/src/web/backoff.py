"""Wrong passwords slow their guesser, never the account's owner.

The account lock it replaces (the 5th wrong password in a row locked the account for 15 minutes, 423)
let anyone lock anyone out, and answered 423 only for addresses that have an account. Here the
failures are counted per client address and typed address together, and per client address alone;
past a few free ones, each next attempt of that key must wait twice as long as the last (up to a
cap), and is answered 429 with Retry-After — before any lookup, the same for an address with or
without an account. The owner signing in from their own client is not counted with a stranger's
failures, so a stranger can slow only themselves.

In this process's memory, like the per-address rate limits (chassis.ratelimit): each replica slows a
guesser on its own; the keys are kept as digests (an address and a client address are personal data).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

#: Wrong passwords from one client for one address before it must wait: a person mistyping is not slowed.
FREE_PER_ADDRESS = 5
#: Wrong passwords from one client, whatever the addresses (one client trying many accounts).
FREE_PER_CLIENT = 20
#: The longest wait, in seconds, and how long a key is remembered after its last failure.
LONGEST_WAIT = 15 * 60.0
FORGET_AFTER = 60 * 60.0
#: Keys kept at most (the oldest forgotten first): a flood of addresses cannot grow memory for ever.
MAX_KEYS = 100_000


@dataclass
class _Failures:
    count: int
    last_at: float


class SignInBackoff:
    def __init__(self) -> None:
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    @staticmethod
    def _keys(address: str, client: str) -> list[tuple[str, int]]:
        def digest(*parts: str) -> str:
            return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]

        return [
            (digest("address", address.strip().lower(), client), FREE_PER_ADDRESS),
            (digest("client", client), FREE_PER_CLIENT),
        ]

    def _wait_of(self, key: str, free: int, now: float) -> float:
        failures = self._failures.get(key)
        if failures is None or failures.count < free:
            return 0.0
        if now - failures.last_at > FORGET_AFTER:
            del self._failures[key]
            return 0.0
        wait = min(LONGEST_WAIT, 2.0 ** (failures.count - free))
        return max(0.0, failures.last_at + wait - now)

    def wait(self, address: str, client: str, now: float) -> int:
        """Whole seconds before this client may try this address again (0: now)."""
        left = max(self._wait_of(key, free, now) for key, free in self._keys(address, client))
        return int(left) + (1 if left % 1 else 0)

    def failed(self, address: str, client: str, now: float) -> None:
        for key, _free in self._keys(address, client):
            failures = self._failures.pop(key, None) or _Failures(0, now)
            failures.count += 1
            failures.last_at = now
            self._failures[key] = failures  # the most recent last
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def succeeded(self, address: str, client: str) -> None:
        """The right password: this client's failures for this address are forgotten (not the
        client's own count: a client that guesses many accounts and finds one stays slowed)."""
        key, _free = self._keys(address, client)[0]
        self._failures.pop(key, None)
