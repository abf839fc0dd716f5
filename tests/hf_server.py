"""A local server that answers like the Hugging Face resolve endpoint, with faults on demand."""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import pytest

REPO = "google/gemma-test-GGUF"
FILENAME = "gemma-test-Q4_K_M.gguf"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift conftest's HF_HUB_OFFLINE=1 for one test, so huggingface_hub may ask this server.

    huggingface_hub reads the variable once, at import, so its constant is patched too; it is
    imported first so that the undo restores the guarded value. Child processes inherit the
    environment without the variable.
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def online_env(env: dict[str, str]) -> dict[str, str]:
    """A child process's environment without the offline guard (see hub_online)."""
    return {k: v for k, v in env.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}


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
    lfs: bool = True  # False: a small file kept in git (ETag is its blob id, no X-Linked-*)
    fail_with: int | None = None  # answer every resolve request with this HTTP status
    seen: list[Seen] = field(default_factory=list)


class HFServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving one file at /{repo}/resolve/{rev}/{file}.

    Errors answer as the Hub does, with X-Error-Code: an unknown repo, or a private one asked
    without a token, is a 401 RepoNotFound (GatedRepo when gated); a wrong token a bare 401;
    an unknown revision or file a 404 RevisionNotFound or EntryNotFound.
    """

    def __init__(self, data: bytes, files: dict[str, bytes] | None = None) -> None:
        self.data = data
        # More files of the same repo (an mmproj next to the model), each with its own sha256.
        self.files = dict(files or {})
        self.file_sha256 = {name: hashlib.sha256(b).hexdigest() for name, b in self.files.items()}
        self.sha256 = hashlib.sha256(data).hexdigest()
        # A git blob id, the ETag the Hub gives files kept in git rather than LFS.
        self.git_sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
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

    def heads(self) -> list[Seen]:
        """The HEAD requests so far."""
        return [s for s in self.seen if s.method == "HEAD"]

    def content(self, filename: str) -> bytes | None:
        """The bytes served for a file name (FILENAME or one of `files`), None when unknown."""
        return self.data if filename == FILENAME else self.files.get(filename)

    def digest(self, filename: str) -> str:
        """The sha256 of a served file."""
        return self.sha256 if filename == FILENAME else self.file_sha256[filename]

    def by_digest(self, sha256: str) -> str:
        """The file name a CDN path's sha256 stands for (FILENAME when none matches)."""
        return next((n for n, d in self.file_sha256.items() if d == sha256), FILENAME)

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

        filename = FILENAME  # the file this request is about

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
            path = urllib.parse.urlsplit(self.path).path
            if path.startswith("/cdn/"):
                self.filename = server.by_digest(path.removeprefix("/cdn/"))
                self._serve(send_body)
                return
            match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
            if match is None:
                self._refuse(404)
                return
            repo, revision, filename = (urllib.parse.unquote(g) for g in match.groups())
            if b.fail_with is not None:
                self._refuse(b.fail_with)
                return
            # The Hub's order: an unknown or private repo looks the same to a stranger.
            if repo != REPO:
                self._refuse(401, code="RepoNotFound", message="Repository not found")
                return
            if b.token is not None:
                sent = self.headers.get("Authorization")
                if sent is None:
                    code = "GatedRepo" if b.gated else "RepoNotFound"
                    self._refuse(401, code=code, message="Access restricted")
                    return
                if sent != f"Bearer {b.token}":
                    self._refuse(401, message="Invalid credentials in Authorization header")
                    return
            if revision not in ("main", COMMIT):
                self._refuse(404, code="RevisionNotFound", message="Invalid rev id")
                return
            if server.content(filename) is None:
                self._refuse(404, code="EntryNotFound", message="Entry not found")
                return
            self.filename = filename
            if b.redirect_to and b.lfs:
                # Like the Hub for LFS files: metadata on the 302, bytes on a CDN.
                self.send_response(302)
                digest = server.digest(filename)
                self.send_header("Location", f"{b.redirect_to}/cdn/{digest}?sig=abc")
                self._metadata()
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._serve(send_body)

        def _refuse(self, status: int, *, code: str = "", message: str = "") -> None:
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            if message:
                self.send_header("X-Error-Message", message)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _metadata(self) -> None:
            self.send_header("X-Repo-Commit", COMMIT)
            if server.behaviour.lfs:
                self.send_header("X-Linked-Etag", f'"{server.digest(self.filename)}"')
                self.send_header("X-Linked-Size", str(len(server.content(self.filename) or b"")))

        def _serve(self, send_body: bool) -> None:
            b = server.behaviour
            data = server.content(self.filename) or b""
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
            etag = server.digest(self.filename) if b.lfs else server.git_sha1
            self.send_header("ETag", f'"{etag}"')
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


@contextlib.contextmanager
def serving(data: bytes) -> Iterator[HFServer]:
    """A server for one test, checked afterwards to have joined every thread it started."""
    before = set(threading.enumerate())
    with HFServer(data) as server:
        yield server
    assert set(threading.enumerate()) <= before, "the test server leaked a thread"
