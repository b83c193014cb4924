"""An intended email to a MIME message, and the message to the SMTP server.

Everything the message holds comes from the EmailIntended (template, language, context) and the
settings: the same intent composes the same message, with the same Message-ID and Date, whenever
it is (re)sent — and ops read it composed the same way, with personal links hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import socket
import time
from datetime import datetime, timedelta
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any
from uuid import UUID

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from chassis.links import sign_link_token
from contracts.events import REGISTRY
from contracts.events.ism_provisioning import SET_PASSWORD_LINK_PURPOSE
from contracts.events.notifier import EmailIntended
from notifier.domain.invitation import validation_call_invitation
from notifier.domain.mapping import RULES_BY_TEMPLATE, Link
from notifier.rendering import VendorContact, render
from notifier.vocabulary import LABELS

#: The purpose support signs survey links with (support's `SURVEY`).
SURVEY_LINK_PURPOSE = "survey"
#: The purposes the web front verifies its links with (web.accounts).
PORTAL_INVITATION_LINK_PURPOSE = "portal_invitation"
PASSWORD_RESET_LINK_PURPOSE = "password_reset"  # noqa: S105 (a purpose, not a secret)


class HeaderInjection(ValueError):
    """A header value with a line break: refused, never folded into a second header."""


def one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise HeaderInjection("a line break in a header value")
    return value


#: Purpose, event fields (token id, expiry) and page of each link kind. The pages are the web front's,
#: on the public origin (`PUBLIC_BASE_URL`): every call to action in an email opens a real page.
LINKS: dict[Link, tuple[str, str, str, str]] = {
    Link.SET_PASSWORD: (
        SET_PASSWORD_LINK_PURPOSE,
        "set_password_token_id",
        "set_password_expires_at",
        "/ism/set-password?token={token}",
    ),
    Link.SURVEY: (SURVEY_LINK_PURPOSE, "survey_token_id", "survey_expires_at", "/survey/{token}"),
    Link.PORTAL_INVITATION: (
        PORTAL_INVITATION_LINK_PURPOSE,
        "invitation_token_id",
        "invitation_expires_at",
        "/invitation/{token}",
    ),
    Link.PASSWORD_RESET: (
        PASSWORD_RESET_LINK_PURPOSE,
        "reset_token_id",
        "reset_expires_at",
        "/password-reset/{token}",
    ),
}


def link_for(link: Link, event: dict[str, Any], settings: Any, *, issued_at: datetime) -> str:
    """The signed link, derived from the token id and expiry the event carries (chassis.links), the
    expiry capped at `issued_at` + MAX_LINK_TTL_HOURS: the event is not trusted with the lifetime."""
    secret = settings.link_signing_secret.get_secret_value()
    base = settings.public_base_url.rstrip("/")
    purpose, id_field, expiry_field, page = LINKS[link]
    expires_at = min(
        datetime.fromisoformat(event[expiry_field]),
        issued_at + timedelta(hours=settings.max_link_ttl_hours),
    )
    token = sign_link_token(secret, purpose, UUID(event[id_field]), expires_at)
    return base + page.format(token=token)


@functools.lru_cache(maxsize=4096)
def _address(value: str) -> Address:
    """An address from the settings or an event (`addr` or `Name <addr>`), its syntax checked by
    email-validator (the rules of the events' `EmailStr`) and kept as written. Cached: the same few
    addresses (ours, each integrator's contacts) come back in every email, and a check costs ~25 µs."""
    name, addr = parseaddr(one_line(value))
    try:
        validate_email(addr, check_deliverability=False)
    except EmailNotValidError as bad:
        raise ValueError(f"not an email address: {value!r} ({bad})") from None
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=username, domain=domain)


class _Encoded(str):
    """A header value already in its RFC 5322/2047 form: ASCII, one logical line (folded lines at most)."""


class _Policy(policy.EmailPolicy):
    """`policy.SMTP`, except that an `_Encoded` value is stored as it is, not parsed into a header
    object. It is parsed when read (`message["Subject"]` is the decoded subject, as for a received
    message) and written out as it is, unless a line is too long: then it is refolded as usual."""

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if isinstance(value, _Encoded):
            if "\r" in value or "\n" in value.replace("\n ", ""):
                raise HeaderInjection("a line break in a header value")
            return (name, str(value))
        return super().header_store_parse(name, value)


SMTP_POLICY = _Policy(linesep="\r\n")


def _text_header(name: str, value: str) -> str:
    """An unstructured header (Subject): ASCII as it is, otherwise RFC 2047 encoded words."""
    one_line(value)
    if "=?" in value:  # would read as an encoded word: let the header registry quote it
        return value
    if value.isascii():
        return _Encoded(value)
    return _Encoded(Header(value, "utf-8", header_name=name).encode(linesep="\n"))


def _address_header(addresses: list[Address]) -> Address | list[Address] | str:
    """An address header: display names RFC 2047 encoded when not ASCII, specials quoted."""
    if any(not a.addr_spec.isascii() or "=?" in a.display_name for a in addresses):
        return addresses  # an internationalised address (SMTPUTF8) or a lookalike: the registry decides
    return _Encoded(",\n ".join(_folded_address(a) for a in addresses))


def _encoded_phrase(display_name: str) -> str:
    """A long non-ASCII display name as several encoded words, cut only where the name has a space.

    One encoded word can outgrow a line ("<vendor> via la plateforme intégrateurs"). Cut anywhere
    else, readers (Python's own address parser among them) show a space inside a word, because
    the white space between encoded words in a phrase is kept there; cut at a space, it is that space.
    """
    words: list[str] = []
    chunk = ""
    for word in display_name.split(" "):
        candidate = f"{chunk} {word}" if chunk else word
        if chunk and len(Header(candidate, "utf-8").encode()) > 70:
            words.append(Header(chunk, "utf-8").encode())
            candidate = word
        chunk = candidate
    words.append(Header(chunk, "utf-8").encode())
    return "\n ".join(words)


def _folded_address(address: Address) -> str:
    """`name <addr>`, folded before the angle address when long (RFC 5322 folding white space)."""
    formatted = formataddr((address.display_name, address.addr_spec), "utf-8")
    name, _, angle = formatted.rpartition(" <")
    if name.startswith("=?") and len(name) > 60:
        name = _encoded_phrase(address.display_name)
    return f"{name}\n <{angle}" if name and len(formatted) > 60 else formatted


def from_address(settings: Any, locale: str) -> Address:
    """The platform's address, named as writing on the vendor's behalf ("<vendor> via ...")."""
    platform = _address(settings.mail_from)
    name = one_line(LABELS[locale]["via"].format(vendor=settings.vendor_name))
    return Address(display_name=name, username=platform.username, domain=platform.domain)


def reply_to(intended: EmailIntended, settings: Any) -> str:
    """Replies reach a person: the support line for support's emails (tickets, approval, releases),
    the named sales administrator for the rest (onboarding, SIMs, ISM)."""
    if REGISTRY.knows(intended.source_event_type):
        if REGISTRY.model(intended.source_event_type).producer == "support":
            return settings.support_email
    return settings.sales_admin_email


def compose(
    intended: EmailIntended, *, intended_at: datetime, settings: Any, for_ops: bool = False
) -> EmailMessage:
    """The MIME message of an intended email. `for_ops`: personal links are hidden."""
    rule = RULES_BY_TEMPLATE[intended.template]
    locale = intended.locale.value
    link = None
    if rule.link is not None:
        link = (
            LABELS[locale]["hidden_link"]
            if for_ops
            else link_for(rule.link, intended.context["event"], settings, issued_at=intended_at)
        )
    vendor = VendorContact.from_settings(settings)
    rendered = render(
        intended.template,
        locale,
        intended.context,
        link=link,
        base_url=settings.public_base_url,
        vendor=vendor,
    )

    # Our own headers are encoded here rather than parsed by the header registry: every value is one
    # line (`one_line`), so none can become a second header. Measured again for issue 18
    # (bench/compose_cpu.py: 2,000 emails of every template, compose + as_bytes, 4 runs): plain
    # `policy.SMTP` headers (`message["Subject"] = value`, Address objects) cost 3.8-4.1 ms of CPU per
    # email against 1.9-2.1 ms here, +1.7 to +2.2 ms: composing, ~30 % of the notifier's ~7 ms per
    # email, would grow it by a quarter (the registry parses each value when set and refolds it in
    # as_bytes). The registry also cuts a long encoded display name inside a word ("intégrateu" /
    # "rs"), which Python's own reader then shows with a space. Kept until the registry is cheaper.
    message = EmailMessage(policy=SMTP_POLICY)
    message["Message-ID"] = _Encoded(one_line(intended.message_id))
    message["Date"] = _Encoded(format_datetime(intended_at))
    message["From"] = _address_header([from_address(settings, locale)])
    message["Reply-To"] = _address_header([_address(reply_to(intended, settings))])
    message["To"] = _address_header([_address(r) for r in intended.recipients])
    message["Subject"] = _text_header("Subject", rendered.subject)
    message["Auto-Submitted"] = _Encoded("auto-generated")  # RFC 3834: no auto-replies to this
    message["X-Notifier-Template"] = _text_header("X-Notifier-Template", intended.template)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    if rule.invitation:
        event = intended.context["event"]
        ics = validation_call_invitation(
            integrator_id=intended.context["integrator_id"],
            booked_at=intended_at,
            starts_at=datetime.fromisoformat(event["starts_at"]),
            duration_minutes=event["duration_minutes"],
            summary=LABELS[locale]["invitation"],
            description=rendered.text,
            phone=event["phone"],
            # The vendor's named contact holds the call: organiser, and invited on every copy.
            organizer_name=vendor.sales_admin_name,
            organizer_email=vendor.sales_admin_email,
            attendee_emails=[intended.recipients[0], vendor.sales_admin_email],
        )
        message.add_attachment(
            ics.encode(),
            maintype="text",
            subtype="calendar",
            filename="invitation.ics",
            params={"method": "REQUEST"},
        )
    # Boundaries from the Message-ID, not random: a resend is byte for byte the same message.
    seed = hashlib.sha256(intended.message_id.encode()).hexdigest()[:24]
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_{seed}_{index}")
    return message


#: At most this many SMTP connections per mailer, each carrying one conversation at a time.
MAX_CONNECTIONS = 4
#: A connection unused for this long is closed, and a new one opened for the next email: well
#: under the 5 minutes an SMTP server waits for a command (RFC 5321 §4.5.3.2.7) before it hangs up.
IDLE_SECONDS = 30.0


class SmtpUnreachable(ConnectionError):
    """The SMTP server did not answer the last conversation: this email was not tried (a failed
    attempt all the same, retried with backoff)."""


def server_away(error: BaseException) -> bool:
    """An error that says the server is away (refused, silent, timed out, hung up), not one about this
    email (a refused recipient, an authentication refused: the server answered)."""
    return isinstance(error, OSError | TimeoutError)


class Mailer:
    """Hands messages to the SMTP server over connections kept open and reused.

    Each email is one conversation (MAIL, RCPT, DATA) on a connection that no other email uses
    meanwhile. A connection that failed in any way, that the server closed, or that sat idle for
    `IDLE_SECONDS` is dropped, and the next email opens a new one. A send error raises, as a new
    connection per email did: the caller records it as a failed attempt, nothing is retried here.

    Every wait is bounded (settings): connecting and the greeting (`smtp_connect_timeout_seconds`),
    each command (`smtp_timeout_seconds`), the whole conversation (`smtp_send_timeout_seconds`). Once
    the server is seen away (refused, silent, hung up), the emails handed over before that (waiting
    for a connection, or later in the same batch: `came_at`) fail at once with its reason instead of
    each waiting its own timeouts: a silent server fails a batch of emails in one connect timeout, not
    one per email. An email that comes after tries the server again (the probe), one at a time: those
    that come during a probe wait for its outcome.
    """

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.sender = _address(settings.mail_from).addr_spec
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        #: Connected clients not in use, with when each was last used (monotonic).
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._local_hostname: str | None = None
        self._reaper: asyncio.TimerHandle | None = None
        #: Why the server is held away (its last failed conversation), and since when (monotonic).
        self._away: str | None = None
        self._away_since = 0.0
        self._away_checked = 0.0
        #: The probe under way while the server is held away: resolves to True when it answered.
        self._probe: asyncio.Future[bool] | None = None
        #: When the server last accepted an email (monotonic; the mailer's start until then).
        self._last_sent = time.monotonic()

    async def send(
        self, message: EmailMessage, recipients: list[str], *, came_at: float | None = None
    ) -> None:
        """Hand the message to the SMTP server; raises on any refusal or connection problem.
        `came_at` (monotonic): when the email was handed over to be sent — by default now; a batch's
        emails all came when the batch began (one integrator's, sent in order, included)."""
        came_at = time.monotonic() if came_at is None else came_at
        async with self._slots:
            probe = await self._admit(came_at)
            try:
                async with asyncio.timeout(self.settings.smtp_send_timeout_seconds):
                    client = await self._take()
                    try:
                        await client.send_message(message, sender=self.sender, recipients=recipients)
                    except BaseException:
                        client.close()  # whatever state it is in, it is not reused
                        raise
            except Exception as error:
                if server_away(error):
                    self._held_away(error)
                else:
                    self._answered()
                raise
            else:
                self._answered()
                self._last_sent = time.monotonic()
                self._idle.append((client, time.monotonic()))
                self._schedule_reap()
            finally:
                if probe is not None:
                    self._probe = None
                    if not probe.done():
                        probe.set_result(self._away is None)

    async def _admit(self, came_at: float) -> asyncio.Future[bool] | None:
        """Whether this email (handed over at `came_at`) may talk to the server now: yes when it is not
        held away; when it is, wait for the probe under way, or fail at once if the server failed to
        answer while it waited, or else be the probe. Returns the probe's future when it is."""
        if self._away is None:
            return None
        if self._probe is not None:
            if await asyncio.shield(self._probe):
                return None
            raise SmtpUnreachable(f"not tried: the SMTP server did not answer ({self._away})")
        if came_at <= self._away_checked:
            raise SmtpUnreachable(f"not tried: the SMTP server did not answer ({self._away})")
        self._probe = asyncio.get_running_loop().create_future()
        return self._probe

    def _held_away(self, error: BaseException) -> None:
        now = time.monotonic()
        if self._away is None:
            self._away_since = now
        self._away = f"{type(error).__name__}: {error}"[:300]
        self._away_checked = now

    def _answered(self) -> None:
        self._away = None

    def health(self) -> dict[str, Any]:
        """What ops read of the SMTP server in /ops/status: reachable as far as this process saw."""
        away = self._away is not None
        return {
            "reachable": not away,
            "last_error": self._away,
            "unreachable_for_seconds": round(time.monotonic() - self._away_since, 1) if away else 0,
        }

    def seconds_since_sent(self) -> float:
        return round(time.monotonic() - self._last_sent, 1)

    async def _take(self) -> aiosmtplib.SMTP:
        now = time.monotonic()
        while self._idle:
            client, last_used = self._idle.pop()  # the most recently used first
            if client.is_connected and now - last_used < IDLE_SECONDS:
                return client
            client.close()
        return await self._connect()

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        if self._local_hostname is None:
            # What aiosmtplib would say in EHLO, resolved once instead of once per connection.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_starttls,
            timeout=settings.smtp_timeout_seconds,  # each command's answer
            local_hostname=self._local_hostname,
        )
        # The TCP connect and the server's greeting: a server that accepts and says nothing is seen here.
        await client.connect(timeout=settings.smtp_connect_timeout_seconds)
        return client

    def _schedule_reap(self) -> None:
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._reap)

    def _reap(self) -> None:
        """Close the connections idle too long (the server would hang up on them anyway)."""
        self._reaper = None
        now = time.monotonic()
        kept = []
        for client, last_used in self._idle:
            if client.is_connected and now - last_used < IDLE_SECONDS:
                kept.append((client, last_used))
            else:
                client.close()
        self._idle = kept
        if kept:
            self._schedule_reap()

    async def close(self) -> None:
        """Close the idle connections (those in use are closed by their sender when done)."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        idle, self._idle = self._idle, []
        for client, _ in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), 2)
            client.close()
