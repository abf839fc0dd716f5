"""inspect_gguf on real files: small GGUFs from gguf's own writer, damaged copies, the starter."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFWriter
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from gemma_desktop.core.errors import ModelFileError
from gemma_desktop.core.gguf_file import (
    FILE_TYPES,
    GGML_TYPES,
    ArraySummary,
    GGUFInfo,
    ggml_nbytes,
    inspect_gguf,
)

TEMPLATE = "{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}{% endfor %}"


def write_gguf(
    path: Path,
    *,
    arch: str = "gemma3",
    extra: Callable[[GGUFWriter], None] | None = None,
    tensors: dict[str, np.ndarray] | None = None,
) -> Path:
    """A small valid GGUF: some metadata and by default one F32 tensor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = GGUFWriter(path, arch)
    writer.add_name("Tiny Test")
    writer.add_context_length(2048)
    writer.add_block_count(2)
    writer.add_embedding_length(8)
    writer.add_file_type(int(LlamaFileType.ALL_F32))
    if extra:
        extra(writer)
    for name, array in (tensors or {"blk.0.weight": np.arange(32, dtype=np.float32)}).items():
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def with_chat_extras(writer: GGUFWriter) -> None:
    """Sampling keys, a chat template and a tokenizer like a real chat model has."""
    writer.add_sampling_temp(1.0)
    writer.add_sampling_top_p(0.95)
    writer.add_sampling_top_k(64)
    writer.add_chat_template(TEMPLATE)
    writer.add_token_list([f"tok{i}" for i in range(300)])
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_add_bos_token(True)
    writer.add_size_label("1K")
    writer.add_sliding_window(512)


def cut(source: Path, size: int, name: str = "cut.gguf") -> Path:
    """A copy of source that ends after size bytes."""
    target = source.with_name(name)
    target.write_bytes(source.read_bytes()[:size])
    return target


def patched(source: Path, offset: int, data: bytes, name: str = "patched.gguf") -> Path:
    """A copy of source with data written over the bytes at offset."""
    raw = bytearray(source.read_bytes())
    raw[offset : offset + len(data)] = data
    target = source.with_name(name)
    target.write_bytes(bytes(raw))
    return target


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny.gguf")


# -- the table of ggml types -----------------------------------------------------------------


def test_ggml_type_table_matches_gguf_package() -> None:
    for type_id, (name, block_elements, block_bytes) in GGML_TYPES.items():
        gguf_type = GGMLQuantizationType(type_id)
        assert gguf_type.name == name
        if name == "Q8_1":
            # ggml's block_q8_1 is {half d; half s; int8 qs[32]} = 36 bytes; gguf-py still
            # carries the old float layout (40). Q8_1 never appears in model files.
            assert (block_elements, block_bytes) == (32, 36)
            continue
        assert GGML_QUANT_SIZES[gguf_type] == (block_elements, block_bytes), name


def test_ggml_type_table_has_the_types_models_use() -> None:
    names = {name for name, _, _ in GGML_TYPES.values()}
    wanted = (
        "F32 F16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K IQ2_XXS IQ2_XS "
        "IQ3_XXS IQ1_S IQ4_NL IQ3_S IQ2_S IQ4_XS I8 I16 I32 I64 F64 IQ1_M BF16 TQ1_0 TQ2_0 MXFP4"
    )
    assert set(wanted.split()) <= names


def test_file_type_names_match_llama_ftype() -> None:
    for value, name in FILE_TYPES.items():
        assert LlamaFileType(value).name.split("_", 1)[1] == name
    assert FILE_TYPES[15] == "Q4_K_M"
    assert FILE_TYPES[7] == "Q8_0"
    assert FILE_TYPES[1] == "F16"
    assert FILE_TYPES[0] == "F32"
    assert FILE_TYPES[32] == "BF16"


def test_nbytes() -> None:
    assert ggml_nbytes(0, (32, 2)) == 256
    assert ggml_nbytes(12, (512, 3)) == 2 * 144 * 3
    assert ggml_nbytes(999, (32,)) is None


# -- valid files -----------------------------------------------------------------------------


def test_tiny_file(tiny: Path) -> None:
    info = inspect_gguf(tiny)
    assert isinstance(info, GGUFInfo)
    assert info.version == 3
    assert info.tensor_count == 1
    assert info.architecture == "gemma3"
    assert info.name == "Tiny Test"
    assert info.context_length == 2048
    assert info.block_count == 2
    assert info.embedding_length == 8
    assert info.quantization == "F32"
    assert info.chat_template is None
    assert info.sampling == {}
    assert info.vocab_size is None
    assert info.warnings == ()
    assert info.alignment == 32
    assert info.data_offset % 32 == 0
    assert info.expected_size == info.file_size == tiny.stat().st_size
    assert info.expected_size == info.data_offset + 32 * 4
    (tensor,) = info.tensors
    assert (tensor.name, tensor.dims, tensor.type_name) == ("blk.0.weight", (32,), "F32")
    assert tensor.nbytes == 128


def test_chat_model_properties(tmp_path: Path) -> None:
    info = inspect_gguf(write_gguf(tmp_path / "chat.gguf", extra=with_chat_extras))
    assert info.sampling == {"temp": 1.0, "top_p": pytest.approx(0.95), "top_k": 64}
    assert info.chat_template == TEMPLATE
    assert info.vocab_size == 300
    assert "tokenizer.ggml.tokens" not in info.metadata
    assert info.bos_token_id == 2
    assert info.eos_token_id == 1
    assert info.add_bos_token is True
    assert info.size_label == "1K"
    assert info.sliding_window == 512


def test_every_value_type_and_nested_arrays(tmp_path: Path) -> None:
    def values(w: GGUFWriter) -> None:
        w.add_uint8("t.u8", 200)
        w.add_int8("t.i8", -100)
        w.add_uint16("t.u16", 60000)
        w.add_int16("t.i16", -30000)
        w.add_uint32("t.u32", 4_000_000_000)
        w.add_int32("t.i32", -2_000_000_000)
        w.add_float32("t.f32", 1.5)
        w.add_uint64("t.u64", 2**63)
        w.add_int64("t.i64", -(2**62))
        w.add_float64("t.f64", 0.1)
        w.add_bool("t.bool", False)
        w.add_string("t.str", "Grüße 👋")
        w.add_array("t.ints", [1, 2, 3])
        w.add_array("t.strs", ["a", "ü"])
        w.add_array("t.nested", [[1, 2], [3]])
        w.add_array("t.big", [0.5] * 5000)
        w.add_array("t.bigstrs", ["x" * 3] * 2000)

    meta = inspect_gguf(write_gguf(tmp_path / "types.gguf", extra=values)).metadata
    assert meta["t.u8"] == 200
    assert meta["t.i8"] == -100
    assert meta["t.u16"] == 60000
    assert meta["t.i16"] == -30000
    assert meta["t.u32"] == 4_000_000_000
    assert meta["t.i32"] == -2_000_000_000
    assert meta["t.f32"] == 1.5
    assert meta["t.u64"] == 2**63
    assert meta["t.i64"] == -(2**62)
    assert meta["t.f64"] == 0.1
    assert meta["t.bool"] is False
    assert meta["t.str"] == "Grüße 👋"
    assert meta["t.ints"] == [1, 2, 3]
    assert meta["t.strs"] == ["a", "ü"]
    assert meta["t.nested"] == [[1, 2], [3]]
    assert meta["t.big"] == ArraySummary("float32", 5000)
    assert meta["t.bigstrs"] == ArraySummary("string", 2000)


def test_custom_alignment_and_several_tensors(tmp_path: Path) -> None:
    tensors = {
        "a": np.ones((3, 32), dtype=np.float32),
        "b": np.ones(64, dtype=np.float16),
    }
    path = write_gguf(
        tmp_path / "aligned.gguf", extra=lambda w: w.add_custom_alignment(64), tensors=tensors
    )
    info = inspect_gguf(path)
    assert info.alignment == 64
    assert info.data_offset % 64 == 0
    assert info.expected_size == path.stat().st_size
    assert [t.dims for t in info.tensors] == [(32, 3), (64,)]


def test_path_with_space_and_umlauts(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "Bericht März" / "Übersicht 2026.gguf")
    info = inspect_gguf(str(path))
    assert info.path == path
    assert info.name == "Tiny Test"


def test_name_falls_back_to_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "nameless.gguf"
    writer = GGUFWriter(path, "llama")
    writer.add_tensor("w", np.zeros(32, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    info = inspect_gguf(path)
    assert info.name == "nameless"
    assert info.quantization is None
    assert info.context_length is None


def test_unknown_tensor_type_is_a_warning(tiny: Path) -> None:
    raw = tiny.read_bytes()
    # Tensor info: name, n_dims (u32), dims (u64 each), type (u32), offset (u64).
    name_at = raw.index(b"blk.0.weight")
    type_at = name_at + len(b"blk.0.weight") + 4 + 8
    assert struct.unpack_from("<I", raw, type_at)[0] == 0
    info = inspect_gguf(patched(tiny, type_at, struct.pack("<I", 250)))
    assert len(info.warnings) == 1
    assert "blk.0.weight" in info.warnings[0]
    assert info.tensors[0].nbytes is None


# -- damaged files ---------------------------------------------------------------------------


def offsets(path: Path) -> dict[str, int]:
    """Byte positions inside the metadata and the tensor list of a file from write_gguf."""
    raw = path.read_bytes()
    return {
        "metadata": raw.index(b"general.name") + 3,
        "tensor list": raw.index(b"blk.0.weight") + 3,
    }


@pytest.mark.parametrize("where", ["magic", "header", "metadata", "tensor list"])
def test_cut_short_inside_the_header(tiny: Path, where: str) -> None:
    size = {"magic": 2, "header": 10, **offsets(tiny)}[where]
    with pytest.raises(ModelFileError) as err:
        inspect_gguf(cut(tiny, size))
    message = str(err.value)
    assert "'cut.gguf' is incomplete" in message
    assert "cut short" in message
    if where != "magic":
        assert where in message


@pytest.mark.parametrize("missing", [1, 64, 127])
def test_cut_short_inside_the_tensor_data(tiny: Path, missing: int) -> None:
    full = tiny.stat().st_size
    with pytest.raises(ModelFileError) as err:
        inspect_gguf(cut(tiny, full - missing))
    assert f"{full - missing:,} bytes of {full:,} expected" in err.value.message
    assert "cut short" in err.value.message
    assert "download" in err.value.hint.lower()


def test_cut_right_after_the_header_padding(tiny: Path) -> None:
    info = inspect_gguf(tiny)
    with pytest.raises(ModelFileError, match="incomplete"):
        inspect_gguf(cut(tiny, info.data_offset))


def test_text_file_renamed(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("Hello world, this is not a model\n", encoding="utf-8")
    with pytest.raises(ModelFileError) as err:
        inspect_gguf(path)
    assert "'notes.gguf' is not a GGUF model file (it starts with 'Hello wo…')" in err.value.message
    assert err.value.hint


def test_binary_non_gguf(tmp_path: Path) -> None:
    path = tmp_path / "archive.gguf"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelFileError, match="50 4b 03 04"):
        inspect_gguf(path)


def test_git_lfs_pointer(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n")
    with pytest.raises(ModelFileError, match="Git LFS pointer"):
        inspect_gguf(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.touch()
    with pytest.raises(ModelFileError, match=r"'empty\.gguf' is empty"):
        inspect_gguf(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist") as err:
        inspect_gguf(tmp_path / "nope.gguf")
    assert "nope.gguf" in err.value.message


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    with pytest.raises(ModelFileError, match="is a folder") as err:
        inspect_gguf(folder)
    assert ".gguf file inside" in err.value.hint


def test_permission_denied(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ModelFileError, match="permission denied") as err:
        inspect_gguf(tiny)
    assert "read access" in err.value.hint


def test_version_1_is_too_old(tiny: Path) -> None:
    with pytest.raises(ModelFileError, match="version 1, which is too old"):
        inspect_gguf(patched(tiny, 4, struct.pack("<I", 1)))


def test_future_version(tiny: Path) -> None:
    with pytest.raises(ModelFileError, match="version 9") as err:
        inspect_gguf(patched(tiny, 4, struct.pack("<I", 9)))
    assert "Update" in err.value.hint


def test_version_2_is_read(tiny: Path) -> None:
    assert inspect_gguf(patched(tiny, 4, struct.pack("<I", 2))).version == 2


def test_garbled_string_length(tiny: Path) -> None:
    raw = tiny.read_bytes()
    # general.name's value: after the key come its type (u32) and the string length (u64).
    length_at = raw.index(b"general.name") + len(b"general.name") + 4
    assert struct.unpack_from("<Q", raw, length_at)[0] == len("Tiny Test")
    with pytest.raises(ModelFileError) as err:
        inspect_gguf(patched(tiny, length_at, struct.pack("<Q", 2**60)))
    assert "is damaged" in err.value.message
    assert "larger than the whole file" in err.value.message


@pytest.mark.parametrize("offset", [8, 16])
def test_garbled_counts(tiny: Path, offset: int) -> None:
    with pytest.raises(ModelFileError, match="damaged"):
        inspect_gguf(patched(tiny, offset, struct.pack("<Q", 2**62)))


def test_garbled_value_type(tiny: Path) -> None:
    raw = tiny.read_bytes()
    type_at = raw.index(b"general.name") + len(b"general.name")
    with pytest.raises(ModelFileError, match="unknown metadata value type 77"):
        inspect_gguf(patched(tiny, type_at, struct.pack("<I", 77)))


def test_garbled_dimension_count(tiny: Path) -> None:
    raw = tiny.read_bytes()
    n_dims_at = raw.index(b"blk.0.weight") + len(b"blk.0.weight")
    with pytest.raises(ModelFileError, match="dimensions"):
        inspect_gguf(patched(tiny, n_dims_at, struct.pack("<I", 4000)))


# -- the real starter ------------------------------------------------------------------------


def test_starter_model(starter_model_path: Path) -> None:
    inspect_gguf(starter_model_path)  # warm the page cache so the timing measures parsing
    started = time.perf_counter()
    info = inspect_gguf(starter_model_path)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert info.architecture == "gemma3"
    assert info.context_length == 32768
    assert info.vocab_size == 262144
    assert info.quantization == "Q4_K_M"
    assert info.expected_size == info.file_size == starter_model_path.stat().st_size
    assert info.tensor_count == len(info.tensors) == 236
    assert info.warnings == ()
    assert "tokenizer.ggml.tokens" not in info.metadata
    assert info.metadata["tokenizer.ggml.scores"] == ArraySummary("float32", 262144)
    assert info.bos_token_id == 2
    assert info.eos_token_id == 1
    assert info.add_bos_token is True
    assert info.sliding_window == 512
    assert info.block_count == 18
    assert info.embedding_length == 640
    assert info.size_label == "270M"


def test_starter_cut_to_50_mb(starter_model_path: Path, tmp_path: Path) -> None:
    target = tmp_path / "Daten März" / "gemma cut.gguf"
    target.parent.mkdir()
    with starter_model_path.open("rb") as src, target.open("wb") as dst:
        dst.write(src.read(50_000_000))
    full = starter_model_path.stat().st_size
    with pytest.raises(ModelFileError) as err:
        inspect_gguf(target)
    assert f"is incomplete: 50,000,000 bytes of {full:,} expected" in err.value.message
