"""The HTTP edges every service shares (issue 22, findings 6 and 7), through a real uvicorn socket —
the peer address of the connection is what these are about, so no in-process transport will do:

- `X-Forwarded-For` is believed only from TRUSTED_PROXIES: an untrusted peer's rotating header does
  not lift the per-address sign-in limit, a trusted proxy's names the client the limit counts;
- one client holding 1,500 idle sockets cannot starve another client's requests (per-client cap).
"""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from chassis.serving import raise_open_file_limit
from chassis.testing import ServiceOverHttp
from tests.support import chassis_app
from web import app as web_app

PROXY = "127.0.0.2"  # another loopback address: a different peer for the server
STRANGER = "127.0.0.3"


@pytest.fixture
def served(stack):
    started: list[ServiceOverHttp] = []

    def start(module: Any, **overrides: Any) -> ServiceOverHttp:
        svc = ServiceOverHttp(stack, module, **overrides).start()
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


def _client_from(address: str, svc: ServiceOverHttp) -> httpx.Client:
    return httpx.Client(
        base_url=svc.base_url,
        transport=httpx.HTTPTransport(local_address=address),
        timeout=10,
        cookies={"csrf": "edge-test"},
        headers={"x-csrf-token": "edge-test"},
    )


def _sign_in(http: httpx.Client, n: int, forwarded_for: str | None) -> int:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    # A fresh address each time: only the per-client-address limit is at work, not a per-account one.
    form = {"email": f"nobody{n}@example.com", "password": "not the password"}
    return http.post("/login", data=form, headers=headers).status_code


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(served):
    svc = served(web_app, trusted_proxies=PROXY, rate_limit_sign_in="3 per 15 minutes", run_reactions=False)

    # A peer that is not a proxy: its header is ignored, rotating it does not make it new clients.
    with _client_from("127.0.0.1", svc) as direct:
        answers = [_sign_in(direct, n, f"198.51.100.{n}") for n in range(4)]
    assert answers == [401, 401, 401, 429], answers

    # The trusted proxy: each forwarded client is its own address for the limit...
    with _client_from(PROXY, svc) as proxy:
        answers = [_sign_in(proxy, 10 + n, f"203.0.113.{n}") for n in range(4)]
        assert answers == [401, 401, 401, 401], answers
        # ...and one forwarded client is limited as itself (the proxy's own address is not the key:
        # it has made 4 requests already, the client below none).
        answers = [_sign_in(proxy, 20 + n, "203.0.113.99") for n in range(4)]
        assert answers == [401, 401, 401, 429], answers
        # Only the right-most entry a trusted proxy appended is believed: a client's own forged
        # entries before it change nothing.
        answers = [_sign_in(proxy, 30 + n, f"10.9.9.{n}, 203.0.113.99") for n in range(2)]
        assert answers == [429, 429], answers


def test_a_trusted_proxy_entry_must_be_an_address():
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        web_app.Settings(trusted_proxies="ingress-nginx")
    assert web_app.Settings(trusted_proxies=" 10.0.0.0/8 , ::1").trusted_proxies == "10.0.0.0/8,::1"


def test_one_client_holding_1500_sockets_does_not_starve_another(served):
    raise_open_file_limit()
    svc = served(chassis_app, run_reactions=False)  # the defaults: 1,000 at once, 100 per client
    held: list[socket.socket] = []
    try:
        for _ in range(1500):
            sock = socket.create_connection(("127.0.0.1", svc.port), timeout=5)
            sock.setblocking(False)
            held.append(sock)
        # Another client, while the 1,500 are held (the header deadline is 10 s: well within).
        with httpx.Client(
            base_url=svc.base_url, transport=httpx.HTTPTransport(local_address=STRANGER), timeout=5
        ) as other:
            started = time.monotonic()
            answers = [other.get("/healthz").status_code for _ in range(50)]
            took = time.monotonic() - started
        assert answers == [200] * 50, f"{answers.count(503)} of 50 answered 503"
        assert took < 5
        # The holder itself got its share and no more: the rest of its sockets were refused.
        refused = 0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            refused = sum(1 for s in held if _refused(s))
            if refused >= 1400:
                break
            time.sleep(0.1)
        assert refused == 1400, refused
    finally:
        for sock in held:
            sock.close()


def _refused(sock: socket.socket) -> bool:
    try:
        data = sock.recv(1024, socket.MSG_PEEK)
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 503")
