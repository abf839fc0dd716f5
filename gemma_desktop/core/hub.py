"""File metadata from the Hub (or a mirror) through huggingface_hub; the transfer is our own."""

from __future__ import annotations

import logging
import os
import sys
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gemma_desktop.core.download import (
    DownloadError,
    Progress,
    RemoteFile,
    _host,
    _sha256_from_etag,
    download,
    resolve_url,
)

log = logging.getLogger(__name__)

# huggingface_hub reads its settings from the environment once, when it is first imported, so
# these are set before that import. Not setdefault: a user's "HF_HUB_DISABLE_TELEMETRY=0" would
# make every run report to the endpoint, and an implicit token would go to whatever endpoint is
# configured.
_FORCED_ENV = {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1"}
_import_lock = threading.Lock()


def file_metadata(
    repo: str,
    filename: str,
    *,
    token: str | None,
    endpoint: str,
    revision: str = "main",
    timeout: float = 30,
    hf_home: Path | None = None,
) -> RemoteFile:
    """Size, sha256 (LFS files), commit and redirect target of one file, from one HEAD.

    token is sent only when given: a HF_TOKEN in the environment or a token saved by other
    Hugging Face tools never is. hf_home becomes HF_HOME only if huggingface_hub has not been
    imported yet in this process (it reads HF_HOME once, at import), so pass it on the first
    call. HF_HUB_OFFLINE is left as the user set it; when set, this raises a DownloadError.
    """
    url = resolve_url(endpoint, repo, filename, revision)
    host = _host(url)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(
            f"{endpoint!r} is not a web address.",
            hint="Check the download endpoint (HF_ENDPOINT); it must start with https://.",
        )
    _import_hub(hf_home)
    from huggingface_hub import get_hf_file_metadata

    try:
        # False, not None: None lets huggingface_hub pick up HF_TOKEN or a saved token. No
        # endpoint=: the URL already names it, and 0.30 has no such argument.
        meta = get_hf_file_metadata(url, token=token or False, timeout=timeout)
    except Exception as exc:
        error = _explain(exc, repo, filename, revision, endpoint, host, bool(token), timeout)
        if error is None:
            raise
        # Only the exception's type: its text can hold URLs with signatures, never needed here.
        log.info("metadata of %s/%s failed: %s", repo, filename, type(exc).__name__)
        raise error from None
    if meta.size is None:
        raise DownloadError(
            f"{host} did not say how big {filename} is.",
            hint="Try again later, or use another mirror (HF_ENDPOINT).",
        )
    return RemoteFile(
        url=urllib.parse.urljoin(url, meta.location) if meta.location else url,
        size=meta.size,
        sha256=_sha256_from_etag(meta.etag),
        commit=meta.commit_hash or None,
        requested_url=url,
    )


def download_from_hub(
    repo: str,
    filename: str,
    target: Path,
    *,
    endpoint: str,
    token: str | None = None,
    revision: str = "main",
    expected_sha256: str | None = None,
    expected_size: int | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    hf_home: Path | None = None,
    timeout: float = 30,
    **transfer_options: Any,
) -> Path:
    """Ask the Hub about repo/filename, then download it resumably and verified into target.

    transfer_options go to core.download.download (chunk_size, disk_margin, retries, ...).
    """
    remote = file_metadata(
        repo, filename, token=token, endpoint=endpoint, revision=revision, timeout=timeout,
        hf_home=hf_home,
    )
    return download(
        remote, target, token=token, expected_sha256=expected_sha256,
        expected_size=expected_size, progress=progress, cancel=cancel, timeout=timeout,
        **transfer_options,
    )


def _import_hub(hf_home: Path | None) -> None:
    """Import huggingface_hub on first use, with telemetry and implicit tokens off."""
    with _import_lock:
        first = "huggingface_hub" not in sys.modules
        os.environ.update(_FORCED_ENV)
        if first and hf_home is not None:
            os.environ["HF_HOME"] = str(hf_home)
        from huggingface_hub import constants

        # Someone may have imported it before the variables were set (a plugin, a test);
        # its settings were then read already, and telemetry would go out anyway.
        constants.HF_HUB_DISABLE_TELEMETRY = True
        constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True


def _explain(
    exc: Exception,
    repo: str,
    filename: str,
    revision: str,
    endpoint: str,
    host: str,
    has_token: bool,
    timeout: float,
) -> DownloadError | None:
    """A DownloadError saying what happened and what to do, or None for an unknown exception."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"{endpoint.rstrip('/')}/{repo}"
    add_token = "add a Hugging Face token under Models (or pull --token-stdin)"
    if isinstance(exc, OfflineModeIsEnabled):
        return DownloadError(
            "Downloads are switched off: the environment variable HF_HUB_OFFLINE is set.",
            hint="Unset HF_HUB_OFFLINE (or set it to 0) and start the app again to download.",
        )
    if isinstance(exc, GatedRepoError):
        if has_token:
            return DownloadError(
                f"{repo} is gated and your token has no access to it yet.",
                hint=f"Accept the licence on the model page at {page} with the account the "
                "token belongs to, then try again.",
            )
        return DownloadError(
            f"{repo} is gated: accept the licence on the model page, then add a token.",
            hint=f"Accept the licence on the model page at {page}, then {add_token}.",
        )
    if isinstance(exc, RepositoryNotFoundError):
        if has_token:
            return DownloadError(
                f"The model {repo} was not found on {host}, or your token cannot see it.",
                hint="Check the spelling of the model name, and that the token can read it.",
            )
        return DownloadError(
            f"The model {repo} was not found on {host}, or it is private.",
            hint=f"Check the spelling of the model name; for a private model {add_token}.",
        )
    if isinstance(exc, RevisionNotFoundError):
        return DownloadError(
            f"The revision {revision!r} of {repo} was not found on {host}.",
            hint=f"Check the branch, tag or commit name on {page}.",
        )
    if isinstance(exc, LocalEntryNotFoundError):
        return _unreachable(host)
    if isinstance(exc, EntryNotFoundError):
        return _file_not_found(filename, repo, host, page, revision)
    if isinstance(exc, HfHubHTTPError):
        return _status_error(_status(exc), filename, repo, host, page, revision, has_token)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "TooManyRedirects" in names:
        return DownloadError(
            f"{host} redirected too often.",
            hint="Check the download endpoint (HF_ENDPOINT), or try again later.",
        )
    if isinstance(exc, TimeoutError) or any("Timeout" in name for name in names):
        return DownloadError(
            f"{host} did not answer within {timeout:g} s.",
            hint="Check the internet connection, or HF_ENDPOINT if you use a mirror, then "
            "try again.",
        )
    # OSError covers the requests-based releases; TransportError the httpx-based ones.
    if isinstance(exc, OSError) or names & {"TransportError", "RequestError"}:
        return _unreachable(host)
    return None


def _status(exc: Exception) -> int | None:
    """The HTTP status of an HfHubHTTPError, whichever HTTP client huggingface_hub uses."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def _status_error(
    status: int | None,
    filename: str,
    repo: str,
    host: str,
    page: str,
    revision: str,
    has_token: bool,
) -> DownloadError:
    """The error for an HTTP answer that huggingface_hub did not classify further."""
    if status in (401, 403):
        if has_token:
            return DownloadError(
                f"{host} rejected your Hugging Face token.",
                hint="Make a new token with read access on Hugging Face (Settings, Access "
                "Tokens) and add it under Models, then try again.",
            )
        return DownloadError(
            "This model needs a Hugging Face token.",
            hint="Add a Hugging Face token with read access under Models, then try again.",
        )
    if status == 404:
        return _file_not_found(filename, repo, host, page, revision)
    if status == 429:
        return DownloadError(
            f"{host} is limiting requests (HTTP 429 Too Many Requests).",
            hint="Wait a few minutes, then try again.",
        )
    said = f"HTTP {status}" if status is not None else "an error"
    if status is not None and status >= 500:
        return DownloadError(f"{host} has a problem ({said}).", hint="Try again later.")
    return DownloadError(
        f"{host} answered {said}.",
        hint="Try again later; if it keeps happening, check the download endpoint (HF_ENDPOINT).",
    )


def _file_not_found(
    filename: str, repo: str, host: str, page: str, revision: str
) -> DownloadError:
    """The error for a file that is not in the repo."""
    return DownloadError(
        f"The file {filename} was not found in {repo} on {host}.",
        hint=f"Check the file name on the repo's Files page ({page}/tree/{revision}); the "
        "catalog may be out of date.",
    )


def _unreachable(host: str) -> DownloadError:
    """The error for a network failure before any answer."""
    return DownloadError(
        f"Could not reach {host}.",
        hint="Check the internet connection, or HF_ENDPOINT if you use a mirror, then try again.",
    )
