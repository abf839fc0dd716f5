"""Resumable, verified model downloads from a Hugging Face style resolve endpoint."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import re
import shutil
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from gemma_desktop.core.errors import UserError

DEFAULT_ENDPOINT = "https://huggingface.co"
MAX_REDIRECTS = 5
USER_AGENT = "gemma-desktop"
_REDIRECTS = {301, 302, 303, 307, 308}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_PROGRESS_INTERVAL_S = 0.1
_RATE_WINDOW_S = 5.0
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """What the server says about a file, learned from a HEAD."""

    url: str
    size: int
    sha256: str | None
    commit: str | None
    # Where the redirect chain started; GETs restart from here because the final URL of a
    # CDN redirect is signed and expires. The token only ever goes to this URL's origin.
    requested_url: str = ""


@dataclass(frozen=True)
class Progress:
    """How far a download is, for a progress bar."""

    done: int
    total: int
    bytes_per_s: float
    eta_s: float | None


class DownloadError(UserError):
    """A download failed in a way the user can act on (token, space, network, damage)."""


class DownloadCancelled(Exception):
    """The caller cancelled the download; the .part file is kept for resuming."""


class _DiskUsage(Protocol):
    """The part of shutil.disk_usage's result that is needed."""

    @property
    def free(self) -> int: ...


class _Interrupted(Exception):
    """The connection failed; the caller may resume with a Range request."""

    def __init__(self, host: str, *, reached: bool) -> None:
        super().__init__(host)
        self.host = host
        self.reached = reached


def default_endpoint() -> str:
    """The Hub (or mirror) to download from: $HF_ENDPOINT, else huggingface.co."""
    return os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


def resolve_url(endpoint: str, repo: str, filename: str, revision: str = "main") -> str:
    """The resolve URL of one file of a repo at a revision."""
    parts = [*repo.split("/"), "resolve", revision, *filename.split("/")]
    path = "/".join(urllib.parse.quote(part, safe="") for part in parts)
    return f"{endpoint.rstrip('/')}/{path}"


def safe_target(models_dir: Path, filename: str) -> Path:
    """Where a repo file is stored: its last path segment, checked to stay inside models_dir."""
    bad = DownloadError(
        f"The file name {filename!r} is not safe to save.",
        hint="Choose another model file; its name must be a plain file name.",
    )
    # Refuse Windows separators and drive letters everywhere, so a name means the same on all OSes.
    if not filename or "\0" in filename or "\\" in filename or filename.startswith("/"):
        raise bad
    if re.match(r"^[A-Za-z]:", filename):
        raise bad
    segments = filename.split("/")
    if any(segment in (".", "..") for segment in segments):
        raise bad
    name = segments[-1]
    if not name:
        raise bad
    base = models_dir.resolve()
    target = (base / name).resolve()
    if target.parent != base:
        raise bad
    return models_dir / name


def download(
    remote: RemoteFile,
    target: Path,
    *,
    token: str | None = None,
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    chunk_size: int = 1 << 20,
    disk_margin: int = 512 << 20,
    disk_usage: Callable[[Path], _DiskUsage] = shutil.disk_usage,
    retries: int = 3,
    retry_delay: float = 0.5,
    timeout: float = 30,
) -> Path:
    """Download into target.part (resuming it), verify size and sha256, then rename to target.

    remote comes from core.hub.file_metadata (core.hub.download_from_hub does both steps).
    retries is how many times in a row a dropped connection is resumed within this call before
    DownloadError; an attempt that received bytes starts the count anew.
    """
    size = _agreed_size(remote, expected_size)
    sha256 = _agreed_sha256(remote, expected_sha256)
    part = target.with_name(target.name + ".part")
    _check_not_cancelled(cancel)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.exists() else 0
    except OSError as exc:
        raise _write_error(part, exc) from exc
    if have > size:
        have = 0  # Left over from another file: it cannot be a prefix of this one.
    _check_space(target.parent, size - have + disk_margin, disk_usage)

    job = _Job(
        url=remote.requested_url or remote.url,
        token=token,
        size=size,
        timeout=timeout,
        chunk_size=chunk_size,
        cancel=cancel,
        meter=_Meter(size, have, progress),
    )
    try:
        with open(part, "r+b" if part.exists() else "w+b") as file:
            job.attach(file, have)
            job.run(retries, retry_delay)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        raise _write_error(part, exc, size - job.have, target.parent, disk_usage) from exc
    job.meter.update(job.have, force=True)

    if job.have != size or (sha256 is not None and job.hasher.hexdigest() != sha256):
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"The downloaded file {target.name} is damaged (checksum mismatch).",
            hint="Download it again.",
        )
    os.replace(part, target)
    _fsync_dir(target.parent)
    return target


class _Restart(Exception):
    """The server will not continue the .part; start over from byte 0."""


class _Job:
    """One transfer into an open .part file: ranged GETs, hashing and progress."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None,
        size: int,
        timeout: float,
        chunk_size: int,
        cancel: threading.Event | None,
        meter: _Meter,
    ) -> None:
        self.url = url
        self._token = token
        self.size = size
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.cancel = cancel
        self.meter = meter
        self.hasher = hashlib.sha256()
        self.have = 0
        self._file: BinaryIO | None = None

    def __repr__(self) -> str:
        return f"_Job(url={self.url!r}, have={self.have}, size={self.size})"

    def attach(self, file: BinaryIO, have: int) -> None:
        """Use file, whose first `have` bytes are kept and hashed (a resumed download)."""
        self._file = file
        file.truncate(have)
        file.seek(0)
        remaining = have
        while remaining:
            _check_not_cancelled(self.cancel)
            block = file.read(min(_HASH_BLOCK, remaining))
            if not block:
                break
            self.hasher.update(block)
            remaining -= len(block)
        self.have = have - remaining
        file.seek(self.have)

    def run(self, retries: int, retry_delay: float) -> None:
        """Fetch until the file is complete, resuming after dropped connections."""
        failures = 0
        while self.have < self.size:
            _check_not_cancelled(self.cancel)
            before = self.have
            try:
                self._fetch()
            except _Restart:
                self._start_over()
                continue
            except _Interrupted as exc:
                # Count failures in a row: an attempt that moved forward starts the count anew.
                failures = 1 if self.have > before else failures + 1
                if failures <= retries:
                    self._wait(retry_delay * 2 ** max(failures - 1, 0))
                    continue
                if not exc.reached and self.have == 0:
                    raise _unreachable(exc.host) from None
                raise DownloadError(
                    f"The download was interrupted at {_human(self.have)} of {_human(self.size)}.",
                    hint="Resume to continue from there.",
                ) from None

    def _fetch(self) -> None:
        """One GET from self.have on; raises _Interrupted when the connection fails."""
        headers = {"Range": f"bytes={self.have}-"} if self.have else {}
        conn, response, final = _open("GET", self.url, self._token, headers, self.timeout)
        host = _host(final)
        try:
            self._check_answer(response)
            while self.have < self.size:
                _check_not_cancelled(self.cancel)
                try:
                    chunk = response.read1(self.chunk_size)
                except (http.client.HTTPException, OSError):
                    raise _Interrupted(host, reached=True) from None
                if not chunk:
                    raise _Interrupted(host, reached=True)
                chunk = chunk[: self.size - self.have]
                assert self._file is not None
                _write(self._file, chunk)
                self.hasher.update(chunk)
                self.have += len(chunk)
                self.meter.update(self.have)
        finally:
            response.close()
            conn.close()

    def _check_answer(self, response: http.client.HTTPResponse) -> None:
        """Accept a 206 that continues the .part or a 200 with the whole file."""
        if response.status == 206 and self.have:
            if _content_range(response.getheader("Content-Range")) == (self.have, self.size):
                return
            raise _Restart()
        if response.status == 200:
            length = response.getheader("Content-Length")
            if length is not None and length.strip() != str(self.size):
                raise DownloadError(
                    f"{_host(self.url)} sent {length} bytes where {self.size} were announced.",
                    hint="The file may have changed on the server; try again.",
                )
            if self.have:
                self._start_over()  # The server ignored Range: this body starts at byte 0.
            return
        if response.status == 416 and self.have:
            raise _Restart()
        raise DownloadError(
            f"{_host(self.url)} answered {response.status} {response.reason}.",
            hint="Try again later.",
        )

    def _start_over(self) -> None:
        """Forget the .part's bytes and hash."""
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        self.hasher = hashlib.sha256()
        self.have = 0
        self.meter.reset(0)

    def _wait(self, seconds: float) -> None:
        """Back off before a retry, waking at once when cancelled."""
        if self.cancel is None:
            time.sleep(seconds)
        elif self.cancel.wait(seconds):
            raise DownloadCancelled()


class _Meter:
    """Rate-limited progress reports with speed over a sliding window."""

    def __init__(self, total: int, start: int, callback: Callable[[Progress], None] | None):
        self.total = total
        self.callback = callback
        self.samples: deque[tuple[float, int]] = deque()
        self.last = float("-inf")
        self.reset(start)

    def reset(self, done: int) -> None:
        """Restart the speed window at `done` bytes."""
        self.samples.clear()
        self.samples.append((time.monotonic(), done))

    def update(self, done: int, *, force: bool = False) -> None:
        """Report `done`, at most every _PROGRESS_INTERVAL_S unless forced."""
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self.last < _PROGRESS_INTERVAL_S:
            return
        self.last = now
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > _RATE_WINDOW_S:
            self.samples.popleft()
        first_time, first_done = self.samples[0]
        elapsed = now - first_time
        rate = max(done - first_done, 0) / elapsed if elapsed > 0 else 0.0
        left = self.total - done
        eta = 0.0 if left <= 0 else (left / rate if rate > 0 else None)
        self.callback(Progress(done=done, total=self.total, bytes_per_s=rate, eta_s=eta))


def _write(file: BinaryIO, data: bytes) -> None:
    """Append data to the .part (a seam for tests that simulate a full disk)."""
    file.write(data)


def _open(
    method: str,
    url: str,
    token: str | None,
    headers: dict[str, str],
    timeout: float,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, str]:
    """Send a request, following redirects; the token goes only to the first URL's origin."""
    origin = _origin(url)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise DownloadError(
                f"{current!r} is not a web address.", hint="Check the download endpoint setting."
            )
        send = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        if token and _origin(current) == origin:
            send["Authorization"] = f"Bearer {token}"
        conn = _connection(parts, timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, path, headers=send)
            response = conn.getresponse()
        except (http.client.HTTPException, OSError):
            conn.close()
            raise _Interrupted(_host(current), reached=False) from None
        failed = response.status >= 400 and response.status != 416
        if response.status in _REDIRECTS or failed:
            answer = {k.lower(): v for k, v in response.getheaders()}
            response.close()
            conn.close()
            if response.status not in _REDIRECTS:
                raise _status_error(response.status, answer, _host(current), bool(token))
            if not answer.get("location"):
                raise DownloadError(
                    f"{_host(current)} redirected without a target.", hint="Try again later."
                )
            current = urllib.parse.urljoin(current, answer["location"])
            continue
        return conn, response, current
    raise DownloadError(f"{_host(url)} redirected too often.", hint="Try again later.")


def _connection(parts: urllib.parse.SplitResult, timeout: float) -> http.client.HTTPConnection:
    """An unopened connection to the URL's host."""
    host = parts.hostname or ""
    if parts.scheme == "https":
        context = ssl.create_default_context()
        return http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, parts.port, timeout=timeout)


def _status_error(
    status: int, headers: dict[str, str], host: str, has_token: bool
) -> DownloadError:
    """A message that says what to do about an HTTP error answer."""
    code = headers.get("x-error-code", "")
    if code == "GatedRepo":
        return DownloadError(
            "This model is gated: accept the licence on the model page, then add a token.",
            hint="Open the model's page on Hugging Face, accept its terms, then add a Hugging Face "
            "token under Models.",
        )
    if code == "RepoNotFound":
        return DownloadError(
            f"The model was not found on {host}, or it is private.",
            hint="Check the model name; for a private model add a Hugging Face token under Models.",
        )
    if status in (401, 403):
        if not has_token:
            return DownloadError(
                "This model needs a Hugging Face token.",
                hint="Add a Hugging Face token with read access under Models, then try again.",
            )
        return DownloadError(
            f"{host} refused access with your token.",
            hint="Check that the token is valid and has read access to this model.",
        )
    if status == 404:
        return DownloadError(
            f"The file was not found on {host}.",
            hint="Check the model and file name; the catalog may be out of date.",
        )
    return DownloadError(f"{host} said {status}.", hint="Try again later.")


def _unreachable(host: str) -> DownloadError:
    """The error for a network failure before any answer."""
    return DownloadError(
        f"Could not reach {host}.", hint="Check the connection, then resume the download."
    )


def _agreed_size(remote: RemoteFile, expected: int | None) -> int:
    """The file size, refusing a server that disagrees with the catalog."""
    if expected is not None and expected != remote.size:
        raise DownloadError(
            f"The server offers {_human(remote.size)} but the catalog expects {_human(expected)}.",
            hint="The file may have changed; update the app or pick another model.",
        )
    return remote.size


def _agreed_sha256(remote: RemoteFile, expected: str | None) -> str | None:
    """The sha256 to verify against, refusing a server that disagrees with the catalog."""
    wanted = expected.lower() if expected else None
    if wanted and remote.sha256 and wanted != remote.sha256:
        raise DownloadError(
            "The file on the server is not the one the catalog expects (different checksum).",
            hint="The file may have changed; update the app or pick another model.",
        )
    return wanted or remote.sha256


def _check_not_cancelled(cancel: threading.Event | None) -> None:
    """Raise DownloadCancelled when the caller asked to stop."""
    if cancel is not None and cancel.is_set():
        raise DownloadCancelled()


def _check_space(folder: Path, needed: int, disk_usage: Callable[[Path], _DiskUsage]) -> None:
    """Refuse to start when the folder's disk cannot hold the rest of the file."""
    try:
        free = disk_usage(folder).free
    except OSError as exc:
        raise _write_error(folder, exc) from exc
    if free < needed:
        raise DownloadError(
            f"Not enough disk space: the download needs {_human(needed)} but only "
            f"{_human(free)} is free in {folder}.",
            hint="Free some space or choose another models folder.",
        )


def _write_error(
    path: Path,
    exc: OSError,
    needed: int = 0,
    folder: Path | None = None,
    disk_usage: Callable[[Path], _DiskUsage] | None = None,
) -> DownloadError:
    """A DownloadError for a failed write; a full disk says how much space is missing."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        free = "no space"
        if folder is not None and disk_usage is not None:
            with contextlib.suppress(OSError):
                free = f"only {_human(disk_usage(folder).free)}"
        return DownloadError(
            f"The disk is full: the download needs {_human(needed)} more but {free} is free.",
            hint="Free some space or choose another models folder, then resume; the partial "
            "download is kept.",
        )
    return DownloadError(
        f"Cannot write {path}: {exc.strerror or exc}.",
        hint="Check the folder's permissions or choose another models folder.",
    )


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; directories cannot be opened for fsync on Windows."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _content_range(value: str | None) -> tuple[int, int] | None:
    """(start, total) from a Content-Range header such as 'bytes 100-199/200'."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+)\s*", value or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _sha256_from_etag(etag: str | None) -> str | None:
    """The sha256 an LFS ETag carries, or None for other ETags (git blob ids, md5s)."""
    if not etag:
        return None
    value = etag.strip().removeprefix("W/").strip('"').lower()
    return value if _SHA256.fullmatch(value) else None


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port, with default ports filled in."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _host(url: str) -> str:
    """host[:port] of a URL, without any user:password part."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def _human(n: int) -> str:
    """A byte count for people: 512 B, 3.1 MB, 2.4 GB."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"
