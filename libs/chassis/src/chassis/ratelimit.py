"""Rate limits (the `limits` library's moving window, in this process's memory): answer 429 with
`Retry-After` when a key has used its rate.

Where they apply (the second-edition rule "rate limits on unauthenticated and email-sending
endpoints"): a link endpoint per link token (a guesser or a replayer of one link is slowed whoever
relays it — the web front calls the services for every person, from one address); commands that make
the platform send email per integrator; registration per staff member; the web front's sign-in and
link pages per client address. Per process on purpose: each replica bounds its own share, with no
shared store to reach; the limits are set well above what a person does.
"""

from __future__ import annotations

import hashlib
import math
import time

from fastapi import HTTPException
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimits:
    """The limiter of one service process."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates: dict[str, RateLimitItem] = {}

    def _rate(self, rate: str) -> RateLimitItem:
        item = self._rates.get(rate)
        if item is None:
            item = self._rates[rate] = parse(rate)
        return item

    def retry_after(self, scope: str, key: str, rate: str) -> int:
        """0 when this hit is allowed (and counted), else whole seconds until it would be."""
        if not self.enabled:
            return 0
        item = self._rate(rate)
        # Keys can be secrets (a link token): only their digest is kept in memory.
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        if self._limiter.hit(item, scope, digest):
            return 0
        reset_at, _remaining = self._limiter.get_window_stats(item, scope, digest)
        return max(1, math.ceil(reset_at - time.time()))

    def enforce(self, scope: str, key: str, rate: str) -> None:
        """Raise 429 with `Retry-After` when `key` has used its `rate` (e.g. "20/minute") in `scope`."""
        wait = self.retry_after(scope, key, rate)
        if wait:
            raise HTTPException(
                429,
                f"too many requests: try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
