"""Wall-clock bounds on a shared machine.

`make test` runs the suite on several pytest-xdist workers on a 2-core machine, often beside other
sessions: a process then gets a share of a core, and a bound measured on an idle machine ("ready
within 15 s") measures the machine instead of the code. `budget(15)` is that bound scaled by how
oversubscribed the CPU has been over the last minute — the bound itself on an idle machine.
"""

from __future__ import annotations

import os


def oversubscription() -> float:
    """Runnable tasks per core over the last minute (the 1-minute load average), at least 1."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def budget(seconds: float) -> float:
    """`seconds` as measured on an idle machine, scaled to the machine's load now."""
    return seconds * oversubscription()
