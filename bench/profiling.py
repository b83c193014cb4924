"""Where the time goes when a figure misses its target: cProfile around one phase of the event loop."""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


async def profiled(awaitable: Awaitable[T], top: int = 12) -> tuple[T, dict[str, Any]]:
    """Run `awaitable` with the profiler on. The relay, the rebuild and the consumer all run on the
    loop's thread, so that is what is seen (not the span exporter's thread). Returns the result and
    the profile: own-time shares by package, and the top functions by own time."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        result = await awaitable
    finally:
        profile.disable()
    stats = pstats.Stats(profile, stream=io.StringIO()).stats  # type: ignore[attr-defined]
    total = sum(tt for (_, _, tt, _, _) in stats.values()) or 1.0
    functions = []
    areas: dict[str, float] = {}
    for (filename, line, func), (_, calls, tt, ct, _) in stats.items():
        where = _short(filename)
        area = _area(where, func)
        areas[area] = areas.get(area, 0.0) + tt / total
        functions.append(
            {
                "function": f"{where}:{line}({func})",
                "calls": calls,
                "own_share": round(tt / total, 3),
                "cumulative_share": round(ct / total, 3),
            }
        )
    functions.sort(key=lambda r: r["own_share"], reverse=True)
    return result, {
        "profiled_seconds": round(total, 3),
        "own_time_by_area": {k: round(v, 3) for k, v in sorted(areas.items(), key=lambda kv: -kv[1])[:10]},
        "top_functions": functions[:top],
    }


def dominant(profile: dict[str, Any]) -> str:
    """One line: the areas that take most of the loop's time."""
    parts = [f"{k} {v:.0%}" for k, v in list(profile["own_time_by_area"].items())[:4]]
    return ", ".join(parts)


def _area(where: str, func: str) -> str:
    if where == "~":  # built-ins: name them by what they are
        if "select" in func or "epoll" in func:
            return "idle (epoll)"
        if "json" in func or "dumps" in func or "loads" in func:
            return "json"
        return "builtins"
    if where.startswith("/"):
        return "bench" if "/bench/" in where else where.rsplit("/", 1)[-1]
    head = where.split("/", 1)[0]
    return head.removesuffix(".py")


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/src/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
