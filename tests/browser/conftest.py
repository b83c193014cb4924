"""Browser tests: the whole embedded platform (six processes, as `make run` starts them) and a real
Chromium driven by Playwright.

- `web_platform` (session): PostgreSQL, the broker, the SMTP sink and the six services on free ports in
  a temporary folder; stopped at the end, nothing left running. Its helpers register integrators
  through the API, add staff users, and read the emails the notifier sent (the `.eml` files).
- `browser` (module) / `page` (per test): Debian's Chromium (`CHROMIUM` or /usr/bin/chromium),
  launched with `executable_path` — Playwright's own browser download is not reachable here.
- `shoot(page, name)`: a screenshot in docs/screenshots/ (the README's gallery for reviewers).
- `assert_accessible(page)`: axe-core (vendored from npm) evaluated in the page (through the
  DevTools protocol, which the Content-Security-Policy does not govern); no serious or critical
  violation.
- Every test fails on any Content-Security-Policy violation a page of it reports (the console's
  "Content Security Policy" errors and `securitypolicyviolation` events, in every context made by
  `page` or `new_page`): a page that needs an inline script or style would be broken for people.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from chassis.auth import mint_token
from chassis.devstack import free_port
from chassis.settings import ServiceSettings
from platform_cli import samples
from platform_cli.demo import clock_offset_for_support_hours
from platform_cli.stack import SERVICES, EmbeddedPlatform
from tests.support.load import budget

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
#: The password every test person chooses (long enough for both the portal and the ISM).
PASSWORD = "correct horse battery staple"  # noqa: S105 (a test person's)
#: The dev-only secrets of the embedded stack (chassis.settings defaults), to mint API tokens.
AUTH_SECRET = ServiceSettings.model_fields["auth_secret"].default.get_secret_value()

_counter = itertools.count(1)

#: The CSP violations the pages of the running test reported (checked and cleared after each test).
CSP_VIOLATIONS: list[str] = []
#: Runs in every page before its own scripts (DevTools-injected: not subject to the policy).
_REPORT_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', e => console.error("
    "'CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI + ' at ' + e.sourceFile + ':' + e.lineNumber))"
)


def _watch_csp(context: Any) -> Any:
    def seen(message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            CSP_VIOLATIONS.append(f"{message.location.get('url', '?')}: {text}")

    context.add_init_script(_REPORT_VIOLATIONS)
    context.on("console", seen)
    return context


@pytest.fixture(autouse=True)
def no_csp_violation() -> Iterator[None]:
    CSP_VIOLATIONS.clear()
    yield
    found, CSP_VIOLATIONS[:] = list(CSP_VIOLATIONS), []
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


@dataclass
class Mail:
    path: Path
    to: str
    subject: str
    text: str
    html: str

    def links(self) -> list[str]:
        return re.findall(r"https?://[^\s<>\"']+", self.text)


@dataclass
class WebPlatform:
    platform: EmbeddedPlatform
    data_dir: Path
    ports: dict[str, int]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def web(self) -> str:
        return f"http://localhost:{self.ports['web']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def token(self, role: str, integrator_id: str | None = None, subject: str | None = None) -> str:
        return mint_token(
            AUTH_SECRET, role=role, subject=subject or f"{role}@editeur-essai.fr", integrator_id=integrator_id
        )

    def api(self, service: str, role: str = "ops", integrator_id: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url(service),
            headers={"Authorization": f"Bearer {self.token(role, integrator_id)}"},
            timeout=30,
        )

    # --- emails -----------------------------------------------------------------------------

    def mails(self) -> list[Mail]:
        out = []
        for path in sorted((self.data_dir / "mail").glob("*.eml"), key=lambda p: p.stat().st_mtime):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            text_part = message.get_body(("plain",))
            html_part = message.get_body(("html",))
            out.append(
                Mail(
                    path=path,
                    to=str(message["To"]),
                    subject=str(message["Subject"]),
                    text=text_part.get_content() if text_part else "",
                    html=html_part.get_content() if html_part else "",
                )
            )
        return out

    def wait_mail(self, to: str, subject: str = "", timeout: float = 30.0) -> Mail:
        """The first email to `to` whose subject contains `subject` (waits for the notifier)."""
        deadline = time.monotonic() + budget(timeout)
        while True:
            for mail in self.mails():
                if to.lower() in mail.to.lower() and subject.lower() in mail.subject.lower():
                    return mail
            if time.monotonic() > deadline:
                seen = [(m.to, m.subject) for m in self.mails()]
                raise AssertionError(f"no email to {to} about {subject!r} after {timeout}s; seen: {seen}")
            time.sleep(0.2)

    def link_in(self, mail: Mail, path_part: str) -> str:
        """The link of `mail` on this platform's web front whose path contains `path_part`."""
        for link in mail.links():
            if link.startswith(self.web) and path_part in link:
                return link
        raise AssertionError(f"no link with {path_part!r} in {mail.subject!r}: {mail.links()}")

    # --- people and integrators ----------------------------------------------------------------

    def register_integrator(self, name: str | None = None, locale: str = "fr") -> dict[str, Any]:
        """Ops register a new integrator (a fresh SIRET and contact); returns ids, names and contact."""
        n = next(_counter)
        siret = samples.siret()
        body = samples.registration(siret)
        legal_name = name or f"Télécom Test {n} SAS"
        contact_email = f"contact{n}.{siret[-6:]}@integrateur{n}-essai.fr"
        body.update(
            legal_name=legal_name,
            locale=locale,
            contacts=[{"name": f"Camille Contact {n}", "email": contact_email, "phone": "0601020304"}],
        )
        with self.api("onboarding") as api:
            r = api.post("/integrators", json=body)
            assert r.status_code == 201, r.text
            integrator_id = r.json()["integrator_id"]
        return {
            "integrator_id": integrator_id,
            "legal_name": legal_name,
            "siret": siret,
            "contact_email": contact_email,
            "contact_name": f"Camille Contact {n}",
            "footer_text": samples.footer_text(siret).replace("Télécom Exemple SAS", legal_name),
        }

    def web_cli(self, *args: str) -> str:
        env = self.platform.service_env(next(s for s in SERVICES if s.name == "web"))
        result = subprocess.run(
            [str(Path(sys.executable).parent / "web"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    def add_staff(self, role: str, name: str | None = None) -> str:
        """A staff member invited with `web users add`, their password set through the invitation
        link (over HTTP, as the browser would); returns their email."""
        n = next(_counter)
        address = f"{role}{n}@editeur-essai.fr"
        out = self.web_cli(
            "users",
            "add",
            "--email",
            address,
            "--name",
            name or f"{role.title()} {n}",
            "--role",
            role,
            "--print-link",
        )
        link = out.rsplit(" ", 1)[-1]
        set_password_through(link)
        return address


def set_password_through(link: str, password: str = PASSWORD) -> None:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        page = http.get(link)
        assert page.status_code == 200, page.text[:500]
        csrf = http.cookies.get("csrf")
        r = http.post(link, data={"csrf_token": csrf, "password": password, "confirmation": password})
        assert r.status_code == 200 and 'role="status"' in r.text, r.text[:500]


@pytest.fixture(scope="session")
def web_platform() -> Iterator[WebPlatform]:
    root = Path(tempfile.mkdtemp(prefix="platform-browser-"))
    saved = {
        k: os.environ.get(k)
        for k in ("PLATFORM_PG_PORT", "PLATFORM_KAFKA_PORT", "PLATFORM_SMTP_PORT", "PLATFORM_READY_TIMEOUT")
    }
    for var in ("PLATFORM_PG_PORT", "PLATFORM_KAFKA_PORT", "PLATFORM_SMTP_PORT"):
        os.environ[var] = str(free_port())
    # Ready in 120 s as on an idle machine: this starts while the other xdist workers collect and start.
    os.environ["PLATFORM_READY_TIMEOUT"] = str(budget(120))
    ports = {spec.name: free_port() for spec in SERVICES}
    env = {
        "DEV_MODE": "true",
        "PUBLIC_BASE_URL": f"http://localhost:{ports['web']}",
        "KAFKA_TOPIC_PARTITIONS": "2",
        # Every browser of the tests is one client address: the per-address limits would count them
        # all together (the limits themselves are tested on their own).
        "RATE_LIMIT_LINK": "1000/minute",
        "RATE_LIMIT_SIGN_IN": "1000/minute",
    }
    # The SIM validation call is held in support hours: at night or on a weekend, run the platform's
    # clock ahead into them, as `make demo` does.
    offset = clock_offset_for_support_hours(datetime.now(UTC), timedelta(hours=2))
    if offset > timedelta(0):
        env["DEV_CLOCK_OFFSET_SECONDS"] = str(int(offset.total_seconds()) + 1)
    platform = EmbeddedPlatform(root / "data", http_ports=ports, env=env)
    try:
        platform.start()
        yield WebPlatform(platform=platform, data_dir=root / "data", ports=ports, env=env)
    finally:
        platform.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Per module, not per session: Playwright's sync API keeps an event loop running in this thread
    while it is started, and the async tests of the other modules need the thread's loop free."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium (apt-get)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (no cookies) in French, the platform's default language. Use
    `new_page(browser, "en")` for another language or a second person."""
    context = _watch_csp(browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900}))
    context.set_default_timeout(budget(15) * 1000)  # ms; 15 s as on an idle machine
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def new_page(browser: Any, locale: str = "fr-FR") -> Any:
    context = _watch_csp(browser.new_context(locale=locale, viewport={"width": 1280, "height": 900}))
    context.set_default_timeout(budget(15) * 1000)  # ms; 15 s as on an idle machine
    return context.new_page()


def shoot(page: Any, name: str) -> Path:
    """A full-page screenshot for reviewers: docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation (WCAG 2 A/AA rules)."""
    # Not a <script> tag: the page's policy (script-src 'self') would refuse an injected one.
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'best-practice']}})"
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"accessibility violations on {page.url}:\n" + "\n".join(bad)


def sign_in(page: Any, web: str, address: str, password: str = PASSWORD) -> None:
    page.goto(f"{web}/login")
    page.fill("#email", address)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
