"""Issue 16, findings 1, 8 and 11: hostile uploads cost a bounded amount, a table too big for the broker
is refused at upload, filenames are served safely, nothing is content-sniffed, a PDF is parsed.

The hostile files are made here (tests/support/hostile_files.py), never committed. The unit checks
run the file checks in this process and bound them with tracemalloc (what Python allocates); the
real-stack test uploads them to onboarding on the real broker and database, watches the resident
memory of the service and of its parsing workers (psutil), and times /healthz while each is parsed.
"""

from __future__ import annotations

import asyncio
import operator
import re
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import openpyxl  # noqa: F401  (imported before any measurement: its import is not a file's cost)
import psutil
import pytest
from PIL import Image, ImageFile

from chassis import bounded
from chassis.clock import ManualClock
from chassis.files import content_disposition, safe_filename
from chassis.isolation import Isolated, LimitExceeded, Limits
from contracts.events.common import DossierItem
from onboarding import api as onboarding_api
from onboarding import app as onboarding_app
from onboarding.checks import FileRefused, check_dossier_file
from tests.fixtures.onboarding.samples import OFFERS, csv, image, logo, registration
from tests.support import hostile_files as hostile
from tests.support.load import budget

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MB = 1024 * 1024


@contextmanager
def python_peak() -> Iterator[dict[str, float]]:
    """Peak bytes Python allocated and seconds spent inside the block."""
    figures: dict[str, float] = {}
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield figures
    finally:
        figures["seconds"] = time.perf_counter() - started
        figures["peak_mb"] = tracemalloc.get_traced_memory()[1] / MB
        tracemalloc.stop()


def refusal(item: DossierItem, content: bytes, filename: str) -> list[str]:
    with pytest.raises(FileRefused) as refused:
        check_dossier_file(item, content, filename)
    return [p.reason for p in refused.value.problems]


# --- spreadsheets ------------------------------------------------------------------------------------


def test_a_declared_dimension_of_82_million_cells_costs_nothing() -> None:
    bomb = hostile.dimension_bomb_xlsx()
    assert len(bomb) < 2500  # ~1.6 KB on the wire
    with python_peak() as cost:
        reasons = refusal(DossierItem.OFFERS_TABLE, bomb, "offres.xlsx")
    # Read as it is (three cells; the last one 16,384 columns out), not as it claims (A1:XFD5000).
    assert reasons == ["row 5000 has more than 200 columns"]
    assert cost["peak_mb"] < 20, cost  # was 1.3 GB resident and 14 s
    assert cost["seconds"] < 3, cost


def test_the_declared_dimension_does_not_pad_rows() -> None:
    """Two real columns under a dimension of 16,384: rows come back two cells wide."""
    book = hostile.dimension_bomb_xlsx()
    rows = bounded.read_rows(book, bounded.XLSX, bounded.TableLimits(max_columns=20_000))
    assert rows[:2] == [["code", "name"], ["A", "B"]]
    assert len(rows) == 5000 and rows[2] == [] and len(rows[-1]) == 16_384


def test_a_zip_of_a_million_rows_is_refused_before_it_is_opened() -> None:
    bomb = hostile.million_rows_xlsx()
    assert len(bomb) < 400_000
    with python_peak() as cost:
        [reason] = refusal(DossierItem.OFFERS_TABLE, bomb, "offres.xlsx")
    assert re.fullmatch(r"the workbook unzips to \d+ MB: at most 32 MB", reason), reason
    assert cost["seconds"] < 2 and cost["peak_mb"] < 20, cost  # was 55 s of CPU


def test_a_zip_with_too_many_parts_is_refused() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        for n in range(600):
            book.writestr(f"xl/media/{n}.bin", b"")
    with pytest.raises(bounded.TableTooLarge, match="600 parts: at most 500"):
        bounded.read_rows(out.getvalue(), bounded.XLSX)


def test_a_long_sheet_is_read_only_up_to_the_row_limit() -> None:
    sheet = hostile.rows_xlsx(200_000)  # under the zip cap: only the row limit can stop it
    with python_peak() as cost:
        [reason] = refusal(DossierItem.OFFERS_TABLE, sheet, "offres.xlsx")
    assert reason == "more than 20000 rows (the header aside): at most 20000"
    assert cost["peak_mb"] < 60, cost


def test_a_long_csv_is_read_only_up_to_the_row_limit() -> None:
    table = b"code;name\n" + b"X;Y\n" * 300_000
    with python_peak() as cost:
        with pytest.raises(bounded.TableTooLarge, match="more than 20000 rows"):
            bounded.read_rows(table, bounded.CSV)
    assert cost["peak_mb"] < 40, cost  # the 1.2 MB file is never decoded into one string and split


def test_trailing_blank_rows_neither_count_nor_stay() -> None:
    table = b"code;name\nA;B\n" + b";\n" * 50_000
    assert bounded.read_rows(table, bounded.CSV) == [["code", "name"], ["A", "B"]]


# --- images --------------------------------------------------------------------------------------------


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any pixel decode fails the test: the verdict must come from the header."""

    def refuse_to_decode(self: Any) -> Any:
        raise AssertionError(f"decoded a {self.size} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)


def test_a_png_declaring_13000_by_13000_is_refused_from_its_header(no_decoding: None) -> None:
    bomb = hostile.png_declaring(13_000, 13_000)
    assert len(bomb) < 700_000
    Image.preinit()  # Pillow's format plugins imported before measuring: their import is not the file's cost
    with python_peak() as cost:
        reasons = refusal(DossierItem.LOGO, bomb, "logo.png")
    assert reasons == ["the image is 13000×13000 px; exactly 95×95 px is required"]
    assert cost["seconds"] < 3 and cost["peak_mb"] < 5, cost  # was 677 MB decoded
    [reason] = refusal(DossierItem.SIM_ARTWORK, bomb, "carte.png")
    assert reason == "the image is 13000×13000 px (169 Mpx): at most 25 Mpx"


def test_an_image_past_pillows_own_bomb_limit_is_refused_too() -> None:
    [reason] = refusal(DossierItem.SIM_ARTWORK, hostile.png_declaring(20_000, 20_000, rgb=False), "a.png")
    assert "far too large" in reason


def test_a_right_sized_image_is_still_decoded_whole() -> None:
    """The header is not the whole check: a 95×95 header over truncated pixels is refused."""
    whole = logo()
    [reason] = refusal(DossierItem.LOGO, whole[: len(whole) - 40], "logo.png")
    assert "damaged or truncated" in reason


# --- PDF -----------------------------------------------------------------------------------------------


def test_a_pdf_is_what_a_pdf_reader_can_read() -> None:
    assert check_dossier_file(DossierItem.SIM_ARTWORK, hostile.real_pdf(), "carte.pdf").media_type == (
        "application/pdf"
    )
    [reason] = refusal(DossierItem.SIM_ARTWORK, hostile.fake_pdf(), "carte.pdf")
    assert reason.startswith("the PDF does not parse"), reason
    [reason] = refusal(DossierItem.ARCEP_DECLARATION, hostile.fake_pdf(), "arcep.pdf")
    assert reason.startswith("the PDF does not parse"), reason
    [reason] = refusal(DossierItem.SIM_ARTWORK, hostile.real_pdf(pages=101), "carte.pdf")
    assert reason == "the PDF has 101 pages: at most 100"


# --- the worker process ----------------------------------------------------------------------------------


async def test_a_worker_over_its_memory_or_cpu_limit_is_stopped_and_said_so() -> None:
    # The work is stdlib callables: the fork server imports installed modules, not this test tree.
    # The wall-clock limit is not the one under test here: 10 s as on an idle machine (a worker starved
    # of CPU by a loaded machine would hit it before its one second of CPU).
    worker = Isolated(
        limits=Limits(memory_bytes=64 * MB, cpu_seconds=1, wall_seconds=budget(10)), max_workers=1
    )
    with pytest.raises(LimitExceeded, match="more than 64 MB of memory"):
        await worker.run(bytes, 512 * MB)
    started = time.perf_counter()
    with pytest.raises(LimitExceeded, match="more than 1 s of CPU"):
        await worker.run(sum, range(10**12))  # minutes of CPU, stopped after one second
    assert time.perf_counter() - started < budget(20)  # CPU seconds, on a shared machine
    quick = Isolated(limits=Limits(wall_seconds=0.5), max_workers=1)
    with pytest.raises(LimitExceeded, match=r"more than 0\.5 s"):
        await quick.run(time.sleep, 5)
    # A refusal raised in the worker comes back whole; a value comes back with the worker's peak.
    with pytest.raises(FileRefused) as refused:
        await worker.run(check_dossier_file, DossierItem.LOGO, b"not an image", "logo.png")
    assert refused.value.problems[0].reason == "the file is not an image (JPEG or PNG expected)"
    outcome = await Isolated(max_workers=1).run_measured(operator.mul, b"\x01", 32 * MB)  # resident
    assert len(outcome.value) == 32 * MB and 32 * MB < outcome.peak_rss_bytes < 250 * MB


async def test_workers_run_at_most_max_workers_at_a_time() -> None:
    one = Isolated(limits=Limits(wall_seconds=10), max_workers=1)
    started = time.perf_counter()
    await asyncio.gather(*(one.run(time.sleep, 0.5) for _ in range(3)))
    assert time.perf_counter() - started >= 1.5  # one after the other, not side by side

    # Another event loop (a service run in a thread, as the schemathesis tests do) gets its own cap
    # (an asyncio.Semaphore that once waited on this loop would refuse to wait on another).
    async def two_at_once() -> list[int]:
        return list(await asyncio.gather(one.run(abs, -3), one.run(abs, -4)))

    assert await asyncio.to_thread(asyncio.run, two_at_once()) == [3, 4]


# --- filenames ---------------------------------------------------------------------------------------------


def parameters(header: str) -> dict[str, str]:
    """The header's parameters, split the way a client splits them (`;` outside quotes)."""
    found: dict[str, str] = {}
    for match in re.finditer(r';\s*([\w*]+)=("(?:[^"\\]|\\.)*"|[^;]*)', header):
        found[match.group(1).lower()] = match.group(2)
    return found


@pytest.mark.parametrize(
    ("stored", "ascii_name", "exact"),
    [
        ("logo.png", "logo.png", "logo.png"),
        ("логотип.png", "file.png", "логотип.png"),
        ("Café crème.xlsx", "Cafe creme.xlsx", "Café crème.xlsx"),
        ("a\"; filename*=UTF-8''evil.html; x=\".png", "a filename=UTF-8''evil.html x=.png", None),
        ("line\r\nSet-Cookie: x=1.png", "lineSet-Cookie x=1.png", "lineSet-Cookie x=1.png"),
        ("..\\..\\etc/passwd", "etcpasswd", "etcpasswd"),
    ],
)
def test_content_disposition_is_rfc_6266_whatever_the_name(
    stored: str, ascii_name: str, exact: str | None
) -> None:
    header = content_disposition(stored)
    header.encode("latin-1")  # sendable at all (a raw Cyrillic name was a 500)
    assert header.isascii() and "\r" not in header and "\n" not in header
    found = parameters(header)
    assert set(found) == {"filename", "filename*"}, header
    assert found["filename"] == f'"{ascii_name}"'
    assert found["filename*"].startswith("UTF-8''")
    assert unquote(found["filename*"][7:]) == (exact or safe_filename(stored))


# --- on the real stack ------------------------------------------------------------------------------------


class Watch:
    """Polls the resident memory of this process (the service runs in it), of the fork server and of
    the parsing workers it forks, until stopped; keeps the peaks."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.baseline = self.me.memory_info().rss
        self.service_peak = self.baseline
        self.fork_server_peak = 0
        self.worker_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def _is_fork_server(child: psutil.Process) -> bool:
        try:
            return "multiprocessing.forkserver" in " ".join(child.cmdline())
        except psutil.Error:
            return False

    def _poll(self) -> None:
        # The database and the broker of the test stack are children too: workers are the fork server's.
        fork_servers = [c for c in self.me.children() if self._is_fork_server(c)]
        while not self._stop.is_set():
            self.service_peak = max(self.service_peak, self.me.memory_info().rss)
            for server in fork_servers:
                try:
                    self.fork_server_peak = max(self.fork_server_peak, server.memory_info().rss)
                    for worker in server.children():
                        self.worker_peak = max(self.worker_peak, worker.memory_info().rss)
                except psutil.Error:
                    pass  # a worker that ended between the listing and the reading
            time.sleep(0.005)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def service_growth_mb(self) -> float:
        return (self.service_peak - self.baseline) / MB


async def upload_while_probing_health(
    svc: Any, path: str, name: str, content: bytes, headers: Any
) -> tuple[Any, float]:
    """Upload, and meanwhile call /healthz every 20 ms: the response and the slowest health answer."""
    upload = asyncio.create_task(svc.http.post(path, files={"file": (name, content)}, headers=headers))
    slowest = 0.0
    while not upload.done():
        started = time.perf_counter()
        health = await svc.http.get("/healthz")
        slowest = max(slowest, time.perf_counter() - started)
        assert health.status_code == 200
        await asyncio.sleep(0.02)
    return await upload, slowest


async def test_hostile_uploads_are_refused_at_a_bounded_cost_while_the_service_answers(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bombs: list[tuple[str, DossierItem, str, Callable[[], bytes], str]] = [
        (
            "dimension A1:XFD5000",
            DossierItem.OFFERS_TABLE,
            "offres.xlsx",
            hostile.dimension_bomb_xlsx,
            "columns",
        ),
        ("a million rows", DossierItem.OFFERS_TABLE, "offres.xlsx", hostile.million_rows_xlsx, "unzips"),
        ("200,000 rows", DossierItem.OFFERS_TABLE, "offres.xlsx", lambda: hostile.rows_xlsx(200_000), "rows"),
        (
            "PNG 13000×13000",
            DossierItem.LOGO,
            "logo.png",
            lambda: hostile.png_declaring(13_000, 13_000),
            "95×95",
        ),
        (
            "artwork 13000×13000",
            DossierItem.SIM_ARTWORK,
            "carte.png",
            lambda: hostile.png_declaring(13_000, 13_000),
            "Mpx",
        ),
        ("fake PDF", DossierItem.SIM_ARTWORK, "carte.pdf", hostile.fake_pdf, "does not parse"),
    ]
    made = [(label, item, name, make(), said) for label, item, name, make, said in bombs]
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        created = await svc.http.post("/integrators", json=registration(), headers=svc.auth("ops"))
        integrator_id = created.json()["integrator_id"]
        me = svc.auth("integrator", integrator_id)
        # A good file first, so the fork server is up and its memory counts in the baseline.
        warm = await svc.http.post(
            f"/integrators/{integrator_id}/dossier/logo", files={"file": ("logo.png", logo())}, headers=me
        )
        assert warm.status_code == 201, warm.text
        figures = []
        for label, item, name, content, said in made:
            path = f"/integrators/{integrator_id}/dossier/{item.value}"
            with Watch() as watch:
                response, slowest = await upload_while_probing_health(svc, path, name, content, me)
            assert response.status_code == 422, (label, response.text)
            body = response.json()
            assert body["code"] == "file_refused" and body["errors"][0]["field"] == "file", body
            assert said in body["errors"][0]["reason"], (label, body)
            figures.append(
                f"{label}: {len(content) // 1024} KB, service +{watch.service_growth_mb:.0f} MB, "
                f"worker peak {watch.worker_peak / MB:.0f} MB (fork server {watch.fork_server_peak / MB:.0f} MB), "
                f"slowest /healthz {slowest * 1000:.0f} ms"
            )
            # Watched (a worker refusing from the zip's directory may end before it is sampled).
            assert watch.fork_server_peak > 0, figures[-1]
            assert watch.service_growth_mb < 60, figures[-1]
            assert watch.worker_peak < 300 * MB, figures[-1]  # its start (~55 MB) + its 192 MB limit
            assert slowest < budget(0.2), figures[-1]  # 200 ms on an idle machine
        print("\n" + "\n".join(figures))

        # A file that passes every cheap check but needs more than the worker may use: the worker is
        # stopped, the answer is a 422 on the file, and the service goes on.
        monkeypatch.setattr(
            onboarding_api.FILE_CHECKER, "limits", Limits(memory_bytes=40 * MB, cpu_seconds=5)
        )
        artwork = image((5000, 5000))  # 25 Mpx: ~100 MB decoded
        over = await svc.http.post(
            f"/integrators/{integrator_id}/dossier/sim_artwork",
            files={"file": ("carte.png", artwork)},
            headers=me,
        )
        assert over.status_code == 422, over.text
        [error] = over.json()["errors"]
        assert error == {
            "field": "file",
            "row": None,
            "column": None,
            "reason": "the file is refused: reading it needs more than 40 MB of memory",
        }
        assert (await svc.http.get("/healthz")).status_code == 200


async def test_a_table_too_big_for_one_broker_message_is_refused_at_upload(service: Any) -> None:
    header, first, _ = OFFERS

    def offers(rows: int) -> bytes:
        return csv([header, *([f"OFFER-{n}", *first[1:]] for n in range(rows))], sep=";")

    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        created = await svc.http.post("/integrators", json=registration(), headers=svc.auth("ops"))
        integrator_id = created.json()["integrator_id"]
        me = svc.auth("integrator", integrator_id)
        path = f"/integrators/{integrator_id}/dossier/offers_table"
        # 20,000 rows is within the row limit, but ~2.4 MB of event: every consumer dead-lettered it.
        big = await svc.http.post(path, files={"file": ("offres.csv", offers(20_000))}, headers=me)
        assert big.status_code == 422, big.text
        [error] = big.json()["errors"]
        assert error["field"] == "file" and "a message carries" in error["reason"], error
        ok = await svc.http.post(path, files={"file": ("offres.csv", offers(2_000))}, headers=me)
        assert ok.status_code == 201 and ok.json()["rows"] == 2_000, ok.text


def raw_multipart(filename: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart body with the filename as a raw client may send it: `"` backslash-escaped, UTF-8
    bytes as they are (httpx would percent-encode them, browsers too; an attacker's script need not)."""
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    body = (
        b"--b0undary\r\n"
        + f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'.encode()
        + b"Content-Type: image/png\r\n\r\n"
        + content
        + b"\r\n--b0undary--\r\n"
    )
    return body, {"content-type": "multipart/form-data; boundary=b0undary"}


async def test_any_filename_downloads_and_nothing_is_sniffed(service: Any) -> None:
    hostile_name = "логотип\"; filename*=UTF-8''evil.html; x=\".png"
    async with service(onboarding_app, clock=ManualClock(START)) as svc:
        created = await svc.http.post("/integrators", json=registration(), headers=svc.auth("ops"))
        integrator_id = created.json()["integrator_id"]
        me = svc.auth("integrator", integrator_id)
        base = f"/integrators/{integrator_id}/dossier/logo"
        body, content_type = raw_multipart(hostile_name, logo())
        sent = await svc.http.post(base, content=body, headers={**me, **content_type})
        assert sent.status_code == 201, sent.text
        # Stored without the characters that end or escape a header parameter.
        assert sent.json()["file"]["filename"] == "логотип filename=UTF-8''evil.html x=.png"
        got = await svc.http.get(f"{base}/file", headers=me)
        assert got.status_code == 200 and got.content == logo()
        disposition = got.headers["content-disposition"]
        found = parameters(disposition)
        assert set(found) == {"filename", "filename*"}, disposition  # nothing injected
        assert unquote(found["filename*"][7:]) == "логотип filename=UTF-8''evil.html x=.png"
        assert found["filename"] == "\"filename=UTF-8''evil.html x=.png\""  # inside quotes: inert
        assert got.headers["x-content-type-options"] == "nosniff"
        for response in (
            await svc.http.get("/healthz"),
            await svc.http.get("/resources/contract-template", headers=me),
            await svc.http.get(f"/integrators/{integrator_id}/dossier/banner/file", headers=me),  # 404
            await svc.http.post(base, files={"file": ("logo.png", b"junk")}, headers=me),  # 422
        ):
            assert response.headers.get("x-content-type-options") == "nosniff", (
                response.url,
                response.status_code,
            )
        resource = await svc.http.get("/resources/contract-template", headers=me)
        assert parameters(resource.headers["content-disposition"])["filename"] == '"contract-template.md"'
