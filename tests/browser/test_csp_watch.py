"""The browser tests' Content-Security-Policy watch itself: a violation a page reports is seen (so the
autouse check in conftest.py can fail a test), then forgotten here so that this test passes."""

from __future__ import annotations

import time
from typing import Any

from .conftest import CSP_VIOLATIONS


def test_a_violation_a_page_reports_is_seen(page: Any) -> None:
    page.set_content(
        "<!DOCTYPE html><html lang='en'><head><title>t</title>"
        "<meta http-equiv='Content-Security-Policy' content=\"style-src 'self'\"></head>"
        "<body><p style='color: red'>styled inline</p></body></html>"
    )
    deadline = time.monotonic() + 10
    while not CSP_VIOLATIONS and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    seen = list(CSP_VIOLATIONS)
    CSP_VIOLATIONS.clear()
    assert any("style-src" in v for v in seen), seen
