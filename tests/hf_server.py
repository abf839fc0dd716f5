"""A local server that answers like the Hugging Face resolve endpoint, with faults on demand."""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

REPO = "google/gemma-test-GGUF"
FILENAME = "gemma-test-Q4_K_M.gguf"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def make_data(size: int = 3 << 20, seed: int = 1234) -> bytes:
    """Seeded random bytes standing in for a model file."""
    return random.Random(seed).randbytes(size)


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class Behaviour:
    """How the server answers; tests change it between (or during) downloads."""

    token: str | None = None
    gated: bool = False
    drop_after: int | None = None  # close the socket after this many body bytes of a GET
    drops: int = 0  # how many GETs to drop; each drop uses one
    corrupt: bool = False
    ignore_range: bool = False
    throttle: tuple[int, float] | None = None  # (bytes, seconds): send slowly
    redirect_to: str | None = None  # base URL of another server holding the bytes
    seen: list[Seen] = field(default_factory=list)


class HFServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving one file at /{repo}/resolve/{rev}/{file}."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.behaviour = Behaviour()
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # Handler threads are joined by server_close, so a test never leaks a thread.
        self._httpd.daemon_threads = False
        self._thread = threading.Thread(target=self._serve, name="hf-server")

    def _serve(self) -> None:
        # A short poll interval makes shutdown quick, keeping the tests fast.
        self._httpd.serve_forever(poll_interval=0.02)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, filename: str = FILENAME, revision: str = "main") -> str:
        """The resolve URL of a file."""
        return f"{self.base}/{REPO}/resolve/{revision}/{filename}"

    @property
    def seen(self) -> list[Seen]:
        with self.lock:
            return list(self.behaviour.seen)

    def gets(self) -> list[Seen]:
        """The GET requests so far."""
        return [s for s in self.seen if s.method == "GET"]

    def __enter__(self) -> HFServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


def _handler_for(server: HFServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one HFServer."""

    class Handler(BaseHTTPRequestHandler):
        """Answers HEAD and GET like the Hub (HTTP/1.0: one request per connection)."""

        def log_message(self, format: str, *args: object) -> None:
            pass  # Keep test output clean.

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def _answer(self, send_body: bool) -> None:
            b = server.behaviour
            with server.lock:
                b.seen.append(
                    Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                )
            if self.path.startswith("/cdn/"):
                self._serve(send_body)
                return
            if self.path != f"/{REPO}/resolve/main/{FILENAME}":
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if b.token is not None and self.headers.get("Authorization") != f"Bearer {b.token}":
                self.send_response(401)
                if b.gated:
                    self.send_header("X-Error-Code", "GatedRepo")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if b.redirect_to:
                # Like the Hub for LFS files: metadata on the 302, bytes on a CDN.
                self.send_response(302)
                self.send_header("Location", f"{b.redirect_to}/cdn/{server.sha256}?sig=abc")
                self._metadata()
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._serve(send_body)

        def _metadata(self) -> None:
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", f'"{server.sha256}"')
            self.send_header("X-Linked-Size", str(len(server.data)))

        def _serve(self, send_body: bool) -> None:
            b = server.behaviour
            data = server.data
            if b.corrupt:
                data = data[:1000] + bytes(x ^ 0xFF for x in data[1000:1010]) + data[1010:]
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if match and not b.ignore_range:
                start = int(match.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self._metadata()
            self.send_header("ETag", f'"{server.sha256}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if not send_body:
                return
            body = data[start:]
            with server.lock:
                if b.drops and b.drop_after is not None:
                    b.drops -= 1
                    body = body[: b.drop_after]
            step, pause = b.throttle or (len(body) or 1, 0.0)
            try:
                for offset in range(0, len(body), step):
                    self.wfile.write(body[offset : offset + step])
                    self.wfile.flush()
                    if pause:
                        time.sleep(pause)
            except (BrokenPipeError, ConnectionResetError):
                pass  # The client went away (cancelled or killed).

    return Handler
