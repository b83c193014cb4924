"""Local monitoring: a real Prometheus (Debian's `prometheus` package) scraping the services, with the
platform's alert rules loaded; and the PrometheusRule of deploy/k8s generated from the same rules.

`make run` starts an `EmbeddedPrometheus` beside the services (UI on http://127.0.0.1:9090: graphs,
Alerts, Targets). Tests start one on a free port with 1 s scrape and evaluation intervals and the
rules' `for:` shortened (`alert_for_seconds`), so an alert fires in seconds, not minutes.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from chassis.devstack import _die_with_parent, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "monitoring" / "rules.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "base" / "monitoring" / "prometheus-rule.yaml"
UI_PORT = 9090

_FOR = re.compile(r"^(\s*)for:\s*\S+\s*$", re.MULTILINE)


def rules_with_for(text: str, seconds: float) -> str:
    """The rule file with every alert's `for:` set to `seconds` (tests: fire in seconds, not minutes)."""
    return _FOR.sub(lambda m: f"{m.group(1)}for: {int(seconds * 1000)}ms", text)


class EmbeddedPrometheus:
    """A Prometheus process: config generated from `targets` (job name -> base URL of a service, whose
    /metrics it scrapes), storage in `data_dir`, killed with its parent (PR_SET_PDEATHSIG)."""

    def __init__(
        self,
        data_dir: Path,
        port: int = UI_PORT,
        targets: dict[str, str] | None = None,
        rules_file: Path | None = RULES,
        *,
        scrape_interval_seconds: float = 5.0,
        evaluation_interval_seconds: float = 5.0,
        alert_for_seconds: float | None = None,
        retention: str = "7d",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.targets = dict(targets or {})
        self.rules_file = rules_file
        self.scrape_interval = scrape_interval_seconds
        self.evaluation_interval = evaluation_interval_seconds
        self.alert_for_seconds = alert_for_seconds
        self.retention = retention
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def config(self) -> dict[str, Any]:
        scrape_configs = []
        for job, base_url in sorted(self.targets.items()):
            parts = urlsplit(base_url)
            scrape_configs.append(
                {
                    "job_name": job,
                    "scheme": parts.scheme or "http",
                    "metrics_path": (parts.path.rstrip("/") or "") + "/metrics",
                    "static_configs": [{"targets": [parts.netloc]}],
                }
            )
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": _duration(self.scrape_interval),
                "scrape_timeout": _duration(min(self.scrape_interval, 10.0)),
                "evaluation_interval": _duration(self.evaluation_interval),
            },
            "scrape_configs": scrape_configs,
        }
        if self.rules_file is not None:
            config["rule_files"] = [str(self._rules_path())]
        return config

    def _rules_path(self) -> Path:
        assert self.rules_file is not None
        if self.alert_for_seconds is None:
            return self.rules_file.resolve()
        return self.data_dir / "rules.yml"

    def start(self) -> EmbeddedPrometheus:
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus is not installed: `make bootstrap` installs Debian's package")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.rules_file is not None and self.alert_for_seconds is not None:
            self._rules_path().write_text(rules_with_for(self.rules_file.read_text(), self.alert_for_seconds))
        config = self.data_dir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        log = (self.data_dir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                f"--storage.tsdb.retention.time={self.retention}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(signal.SIGTERM),
        )
        wait_for_port(self.port, 30, self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus did not become ready: see {self.data_dir / 'prometheus.log'}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> EmbeddedPrometheus:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- reading it back (tests, the console) -------------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now (Prometheus's /api/v1/alerts)."""
        response = httpx.get(f"{self.url}/api/v1/alerts", timeout=5)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
        return alerts

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result


def _duration(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms"


# --- the PrometheusRule of deploy/k8s ---------------------------------------------------------------------

_HEADER = """\
# GENERATED from deploy/monitoring/rules.yml by `uv run python -m platform_cli.monitoring`:
# edit the rules there, then regenerate (tests/test_alerts.py checks the two are equal).
# For the Prometheus Operator (kube-prometheus-stack): its Prometheus selects rules by the `release` label.
"""


def prometheus_rule(rules_text: str) -> dict[str, Any]:
    """The PrometheusRule (monitoring.coreos.com/v1) holding the rule file's groups, unchanged."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "integrator-platform",
            "labels": {"app.kubernetes.io/component": "monitoring", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": yaml.safe_load(rules_text)["groups"]},
    }


def render_prometheus_rule(rules_text: str) -> str:
    return _HEADER + yaml.safe_dump(
        prometheus_rule(rules_text), sort_keys=False, allow_unicode=True, width=110
    )


def main() -> None:
    PROMETHEUS_RULE.parent.mkdir(parents=True, exist_ok=True)
    PROMETHEUS_RULE.write_text(render_prometheus_rule(RULES.read_text()))
    print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
