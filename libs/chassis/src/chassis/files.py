"""Content-addressed file storage (a file is named by its sha256, so it is never overwritten or lost),
and serving files back safely: the name the uploader chose is sanitised before it is stored and
encoded per RFC 6266 when it is sent (issue 16: a non-Latin-1 name gave a 500, a `"` injected
`Content-Disposition` parameters), and no response may be content-sniffed by a browser."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.events.common import FileRef

#: Never in a stored name: controls (CR/LF split headers), the characters that end or escape a quoted
#: header parameter (`"`, `\`, `;`), path separators, and Unicode's invisible direction overrides.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\;/:*?<>|\u202a-\u202e\u2066-\u2069]')


def safe_filename(name: str) -> str:
    """The uploader's name with the unsafe characters removed, at most 255 characters, never empty."""
    cleaned = " ".join(_UNSAFE.sub("", unicodedata.normalize("NFC", name)).split()).strip(". ")
    return cleaned[:255] or "file"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """An RFC 6266 header value: an ASCII `filename=` for old clients, the exact name UTF-8 in
    `filename*=` (RFC 8187) for the others. Header values are Latin-1: a raw non-Latin-1 name cannot
    be sent at all."""
    clean = safe_filename(name)
    stem, dot, extension = clean.rpartition(".")
    if not dot:
        stem, extension = clean, ""
    # é → e, ü → u; what has no ASCII form (Cyrillic, CJK) is dropped, the extension kept.
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode().strip() or "file"
    ascii_extension = unicodedata.normalize("NFKD", extension).encode("ascii", "ignore").decode()
    fallback = f"{ascii_stem}.{ascii_extension}" if ascii_extension else ascii_stem
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


class NoSniff:
    """`X-Content-Type-Options: nosniff` on every response: an uploaded file served back as
    text/csv or image/png is never run by a browser as HTML or script, whatever its bytes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with_header)


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a sha256")
        return self.root / sha256[:2] / sha256

    def put(self, content: bytes, filename: str, media_type: str) -> FileRef:
        digest = hashlib.sha256(content).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a crash never leaves a half file under the final name.
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        return FileRef(
            sha256=digest, size=len(content), filename=safe_filename(filename), media_type=media_type
        )

    def read(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()
