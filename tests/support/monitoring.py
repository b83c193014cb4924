"""The monitoring files (rules, dashboards) read back, and the metric names their PromQL mentions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "monitoring" / "rules.yml"
DASHBOARDS = ROOT / "deploy" / "k8s" / "base" / "monitoring" / "dashboards"

#: PromQL words that are not metrics.
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "inf", "nan", "Inf", "NaN",
}  # fmt: skip
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")
_BRACES = re.compile(r"\{[^}]*\}")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_WORD = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels, keywords or ranges)."""
    text = _BRACKETS.sub("", _BRACES.sub("", _STRINGS.sub('""', expr)))
    text = _GROUPING.sub(" ", text)
    return {
        word
        for word, call in _WORD.findall(text)
        if not call and word not in _KEYWORDS and not re.fullmatch(r"\d+[smhdwy]?", word)
    }


def rule_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) of every rule of deploy/monitoring/rules.yml."""
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", rule["expr"]


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def dashboard_expressions() -> Iterator[tuple[str, str]]:
    """(where, expr) of every panel target of every dashboard."""
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                yield f"{name}: {panel['title']}", target["expr"]
