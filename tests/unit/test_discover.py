"""find_ggufs and default_locations on folder trees built in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gemma_desktop.core.discover import (
    HF_CACHE,
    LM_STUDIO,
    MIN_SIZE,
    default_locations,
    find_ggufs,
)


def _big(path: Path, size: int = MIN_SIZE) -> Path:
    """Create a sparse file of the given size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)
    return path


def _hf_tree(hub: Path) -> Path:
    """Build a Hugging Face cache repo; return the snapshot symlink to the model."""
    repo = hub / "models--org--repo"
    _big(repo / "blobs" / "abc123", MIN_SIZE + 7)
    _big(repo / "blobs" / "def456")
    _big(repo / "blobs" / "999.incomplete")
    snap = repo / "snapshots" / "rev1"
    snap.mkdir(parents=True)
    (snap / "model-Q4_K_M.gguf").symlink_to("../../blobs/abc123")
    (snap / "mmproj-model-f16.gguf").symlink_to("../../blobs/def456")
    (snap / "other.gguf").symlink_to("../../blobs/missing")  # broken link
    return snap / "model-Q4_K_M.gguf"


def test_hf_cache_symlink_reported_with_target_size(tmp_path: Path) -> None:
    link = _hf_tree(tmp_path / "hub")
    found = find_ggufs([(HF_CACHE, tmp_path / "hub")])
    assert len(found) == 1
    model = found[0]
    assert model.path == link and model.name == "model-Q4_K_M.gguf"
    assert model.size == MIN_SIZE + 7 and model.source == HF_CACHE


def test_lm_studio_tree_and_sorting(tmp_path: Path) -> None:
    lms = tmp_path / "lms"
    _big(lms / "pub" / "repo" / "x.gguf")
    _big(lms / "pub" / "repo" / "A.gguf")
    _big(lms / "pub" / "repo" / "mmproj-x.gguf")
    _big(lms / "pub" / "repo" / "y.gguf.part")
    _big(lms / "pub" / "repo" / "z.gguf.incomplete")
    _big(lms / "pub" / "repo" / "notes.bin")
    _hf_tree(tmp_path / "hub")
    found = find_ggufs([(LM_STUDIO, lms), (HF_CACHE, tmp_path / "hub")])
    assert [(m.source, m.name) for m in found] == [
        (HF_CACHE, "model-Q4_K_M.gguf"),
        (LM_STUDIO, "A.gguf"),
        (LM_STUDIO, "x.gguf"),
    ]


def test_small_files_skipped(tmp_path: Path) -> None:
    _big(tmp_path / "tiny.gguf", MIN_SIZE - 1)
    _big(tmp_path / "ok.gguf")
    assert [m.name for m in find_ggufs([(LM_STUDIO, tmp_path)])] == ["ok.gguf"]


def test_directory_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    root = tmp_path / "models"
    _big(root / "sub" / "m.gguf")
    (root / "sub" / "a").symlink_to("..")
    (root / "self").symlink_to(root)
    found = find_ggufs([(LM_STUDIO, root)])
    assert [m.path for m in found] == [root / "sub" / "m.gguf"]


def test_max_depth_limits_the_walk(tmp_path: Path) -> None:
    _big(tmp_path / "a" / "b" / "c" / "deep.gguf")
    assert find_ggufs([(LM_STUDIO, tmp_path)], max_depth=2) == []
    assert len(find_ggufs([(LM_STUDIO, tmp_path)], max_depth=3)) == 1


def test_missing_and_unreadable_folders_are_skipped(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    _big(locked / "hidden.gguf")
    _big(tmp_path / "open" / "seen.gguf")
    locked.chmod(0)
    try:
        found = find_ggufs(
            [(LM_STUDIO, tmp_path / "nope"), (LM_STUDIO, tmp_path), (HF_CACHE, tmp_path / "f")]
        )
    finally:
        locked.chmod(0o755)
    names = [m.name for m in found]
    assert "seen.gguf" in names
    if os.geteuid() != 0:  # root ignores file modes
        assert "hidden.gguf" not in names


def test_root_that_is_a_file_is_skipped(tmp_path: Path) -> None:
    assert find_ggufs([(LM_STUDIO, _big(tmp_path / "m.gguf"))]) == []


def test_overlapping_locations_are_deduplicated(tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    _hf_tree(hub)
    _big(tmp_path / "elsewhere.gguf")
    (tmp_path / "alias.gguf").symlink_to(tmp_path / "elsewhere.gguf")
    found = find_ggufs([(HF_CACHE, hub), (LM_STUDIO, tmp_path)])
    assert sorted(m.name for m in found) == ["alias.gguf", "model-Q4_K_M.gguf"] or sorted(
        m.name for m in found
    ) == ["elsewhere.gguf", "model-Q4_K_M.gguf"]
    assert [m.source for m in found].count(HF_CACHE) == 1
    assert len({m.path.resolve() for m in found}) == len(found) == 2


def test_limit_stops_the_search(tmp_path: Path) -> None:
    for i in range(5):
        _big(tmp_path / f"m{i}.gguf")
    assert len(find_ggufs([(LM_STUDIO, tmp_path)], limit=3)) == 3
    assert len(find_ggufs([(LM_STUDIO, tmp_path), (HF_CACHE, tmp_path)], limit=5)) == 5


def test_default_locations_without_env(tmp_path: Path) -> None:
    assert default_locations(home=tmp_path, env={}) == [
        (HF_CACHE, tmp_path / ".cache" / "huggingface" / "hub"),
        (LM_STUDIO, tmp_path / ".lmstudio" / "models"),
        (LM_STUDIO, tmp_path / ".cache" / "lm-studio" / "models"),
    ]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_HUB_CACHE": "/h/hub", "HF_HOME": "/x", "XDG_CACHE_HOME": "/y"}, "/h/hub"),
        ({"HF_HOME": "/x", "XDG_CACHE_HOME": "/y"}, "/x/hub"),
        ({"XDG_CACHE_HOME": "/y"}, "/y/huggingface/hub"),
        ({"HF_HUB_CACHE": "", "HF_HOME": "/x"}, "/x/hub"),
    ],
)
def test_default_locations_honour_env(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    assert default_locations(home=tmp_path, env=env)[0] == (HF_CACHE, Path(expected))
