"""Inspect a GGUF model file (header, metadata, tensor list, size) before llama.cpp loads it."""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gemma_desktop.core.errors import ModelFileError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Arrays longer than this are summarised (type and count) instead of kept: the vocabulary, scores
# and merges of a tokenizer hold hundreds of thousands of entries nobody in the app reads.
ARRAY_KEEP_LIMIT = 1024
TOKENS_KEY = "tokenizer.ggml.tokens"

# ggml's GGML_MAX_DIMS; a tensor claiming more dimensions is damaged.
_MAX_DIMS = 4
# Nested arrays deeper than this only appear in damaged files; the limit keeps recursion bounded.
_MAX_ARRAY_DEPTH = 8
# No real tensor comes near 256 TiB; a larger size means garbled dimensions.
_MAX_TENSOR_BYTES = 1 << 48
_CHUNK = 1 << 20

# ggml type id -> (name, elements per block, bytes per block), as in ggml's type traits.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    # ggml's block_q8_1 is two halfs + 32 int8 = 36 bytes (gguf-py still lists an older 40).
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}

# general.file_type (llama.cpp's llama_ftype) -> readable quantization name.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
}
# llama.cpp sets this bit when the file type was guessed from the tensors.
_FILE_TYPE_GUESSED = 1024

# GGUF value type id -> (name, struct format) for fixed-size scalars.
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("uint8", "B"),
    1: ("int8", "b"),
    2: ("uint16", "H"),
    3: ("int16", "h"),
    4: ("uint32", "I"),
    5: ("int32", "i"),
    6: ("float32", "f"),
    7: ("bool", "?"),
    10: ("uint64", "Q"),
    11: ("int64", "q"),
    12: ("float64", "d"),
}
_STRING = 8
_ARRAY = 9
_TYPE_NAMES = {**{k: v[0] for k, v in _SCALARS.items()}, _STRING: "string", _ARRAY: "array"}

_SCALAR_STRUCTS = {k: struct.Struct("<" + fmt) for k, (_, fmt) in _SCALARS.items()}
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class ArraySummary:
    """A long metadata array kept only as its element type and length."""

    item_type: str
    count: int


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header; nbytes is None for a ggml type this app does not know."""

    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int
    nbytes: int | None

    @property
    def type_name(self) -> str:
        """The ggml type's name, or 'type N' when unknown."""
        known = GGML_TYPES.get(self.ggml_type)
        return known[0] if known else f"type {self.ggml_type}"


@dataclass(frozen=True)
class GGUFInfo:
    """What the header of a GGUF file says, checked against the file's size."""

    path: Path
    file_size: int
    version: int
    tensor_count: int
    metadata: dict[str, Any]
    data_offset: int
    expected_size: int
    warnings: tuple[str, ...] = ()
    vocab_size: int | None = None
    alignment: int = DEFAULT_ALIGNMENT
    tensors: tuple[TensorInfo, ...] = field(default=(), repr=False)

    @property
    def architecture(self) -> str | None:
        """general.architecture, e.g. 'gemma3'."""
        return _as_str(self.metadata.get("general.architecture"))

    @property
    def name(self) -> str:
        """general.name, else the file name without its extension."""
        return _as_str(self.metadata.get("general.name")) or self.path.stem

    @property
    def context_length(self) -> int | None:
        """The context window the model was trained for."""
        return self._arch_int("context_length")

    @property
    def block_count(self) -> int | None:
        """Number of transformer layers."""
        return self._arch_int("block_count")

    @property
    def embedding_length(self) -> int | None:
        """Hidden size."""
        return self._arch_int("embedding_length")

    @property
    def sliding_window(self) -> int | None:
        """Window of the sliding-window attention layers, if the model has them."""
        return self._arch_int("attention.sliding_window")

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template stored in the file, if any."""
        return _as_str(self.metadata.get("tokenizer.chat_template"))

    @property
    def bos_token_id(self) -> int | None:
        """Id of the beginning-of-sequence token."""
        return _as_int(self.metadata.get("tokenizer.ggml.bos_token_id"))

    @property
    def eos_token_id(self) -> int | None:
        """Id of the end-of-sequence token."""
        return _as_int(self.metadata.get("tokenizer.ggml.eos_token_id"))

    @property
    def add_bos_token(self) -> bool | None:
        """Whether the tokenizer adds a BOS token itself."""
        value = self.metadata.get("tokenizer.ggml.add_bos_token")
        return value if isinstance(value, bool) else None

    @property
    def sampling(self) -> dict[str, Any]:
        """The general.sampling.* keys without their prefix, e.g. {'temp': 1.0, 'top_k': 64}."""
        prefix = "general.sampling."
        return {k[len(prefix) :]: v for k, v in self.metadata.items() if k.startswith(prefix)}

    @property
    def size_label(self) -> str | None:
        """general.size_label, e.g. '270M'."""
        return _as_str(self.metadata.get("general.size_label"))

    @property
    def file_type(self) -> int | None:
        """general.file_type as stored (llama.cpp's llama_ftype)."""
        return _as_int(self.metadata.get("general.file_type"))

    @property
    def quantization(self) -> str | None:
        """A readable name of general.file_type, e.g. 'Q4_K_M'; None when unknown."""
        file_type = self.file_type
        if file_type is None:
            return None
        return FILE_TYPES.get(file_type & ~_FILE_TYPE_GUESSED)

    def _arch_int(self, suffix: str) -> int | None:
        arch = self.architecture
        return _as_int(self.metadata.get(f"{arch}.{suffix}")) if arch else None


def ggml_nbytes(ggml_type: int, dims: tuple[int, ...] | list[int]) -> int | None:
    """Bytes a tensor of this type and shape occupies; None for an unknown type."""
    known = GGML_TYPES.get(ggml_type)
    if known is None:
        return None
    _, block_elements, block_bytes = known
    count = math.prod(dims)
    return -(-count // block_elements) * block_bytes


def inspect_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read and check a GGUF file's header; raise ModelFileError saying what is wrong and why."""
    file_path = Path(path)
    shown = f"'{file_path.name}'"
    try:
        with file_path.open("rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            if file_size == 0:
                raise ModelFileError(
                    f"{shown} is empty (0 bytes).",
                    hint="The download or copy did not finish; download the model again.",
                )
            reader = _Reader(handle, file_size, shown)
            return _parse(reader, file_path, file_size)
    except FileNotFoundError as exc:
        raise ModelFileError(
            f"The model file {file_path} does not exist.",
            hint="Check the path, or open the GGUF file again if it was moved or renamed.",
        ) from exc
    except IsADirectoryError as exc:
        raise _directory_error(file_path) from exc
    except PermissionError as exc:
        # Windows reports opening a directory as a permission error.
        if file_path.is_dir():
            raise _directory_error(file_path) from exc
        raise ModelFileError(
            f"The model file {file_path} cannot be read: permission denied.",
            hint="Give your user read access to the file or copy it to a folder you own.",
        ) from exc
    except OSError as exc:
        raise ModelFileError(
            f"The model file {file_path} cannot be read: {exc.strerror or exc}.",
            hint="Check that the drive is connected and the file is readable.",
        ) from exc


def _directory_error(file_path: Path) -> ModelFileError:
    return ModelFileError(
        f"{file_path} is a folder, not a model file.",
        hint="Choose the .gguf file inside it.",
    )


class _Reader:
    """Sequential little-endian reads over a buffered file, each checked against the file's end."""

    def __init__(self, handle: IO[bytes], file_size: int, shown: str) -> None:
        self._handle = handle
        self._file_size = file_size
        self._shown = shown
        self._buf = b""
        self._pos = 0
        self._base = 0  # file offset of self._buf[0]
        self.section = "header"

    @property
    def offset(self) -> int:
        """Current position in the file."""
        return self._base + self._pos

    @property
    def remaining(self) -> int:
        """Bytes left between the position and the end of the file."""
        return self._file_size - self.offset

    def cut_short(self) -> ModelFileError:
        """The error for a file that ends inside its header."""
        return ModelFileError(
            f"{self._shown} is incomplete: it ends after {self._file_size:,} bytes, in the middle "
            f"of its {self.section} — the download or copy was cut short.",
            hint="Download the model again.",
        )

    def damaged(self, what: str) -> ModelFileError:
        """The error for a header whose contents make no sense."""
        return ModelFileError(
            f"{self._shown} is damaged: {what} (at byte {self.offset:,}).",
            hint="The file is not a usable GGUF model; download it again.",
        )

    def _fill(self, n: int) -> None:
        if n > self.remaining:
            raise self.cut_short()
        rest = self._buf[self._pos :]
        more = self._handle.read(max(n - len(rest), _CHUNK))
        self._base += self._pos
        self._buf = rest + more
        self._pos = 0
        if len(self._buf) < n:
            raise self.cut_short()

    def take(self, n: int) -> bytes:
        """The next n bytes."""
        if self._pos + n > len(self._buf):
            self._fill(n)
        start = self._pos
        self._pos += n
        return self._buf[start : self._pos]

    def unpack(self, fmt: struct.Struct) -> Any:
        """One value of a precompiled struct format."""
        if self._pos + fmt.size > len(self._buf):
            self._fill(fmt.size)
        value = fmt.unpack_from(self._buf, self._pos)[0]
        self._pos += fmt.size
        return value

    def u32(self) -> int:
        """An unsigned 32-bit integer."""
        value: int = self.unpack(_U32)
        return value

    def u64(self) -> int:
        """An unsigned 64-bit integer."""
        value: int = self.unpack(_U64)
        return value

    def skip(self, n: int) -> None:
        """Move past n bytes, seeking when they are not buffered."""
        if self._pos + n <= len(self._buf):
            self._pos += n
            return
        if n > self.remaining:
            raise self.cut_short()
        target = self.offset + n
        self._handle.seek(target)
        self._base, self._buf, self._pos = target, b"", 0

    def length(self, what: str, item_size: int = 1, *, items_follow: bool = True) -> int:
        """A 64-bit count of items of at least item_size bytes, checked against the file's size.

        items_follow means the items come right here, so they must fit in what is left of the file.
        """
        count = self.u64()
        if count * item_size > self._file_size:
            raise self.damaged(f"{what} of {count:,} is larger than the whole file")
        if items_follow and count * item_size > self.remaining:
            raise self.cut_short()
        return count

    def string(self) -> str:
        """A length-prefixed UTF-8 string."""
        n = self.length("a text length")
        return self.take(n).decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        """Move past count strings undecoded; a tight loop because vocabularies are huge."""
        left = count
        unpack_len = _U64.unpack_from
        while left:
            buf, pos, end = self._buf, self._pos, len(self._buf)
            while left and pos + 8 <= end:
                n = unpack_len(buf, pos)[0]
                if pos + 8 + n > end:
                    break
                pos += 8 + n
                left -= 1
            self._pos = pos
            if left:
                # The next string straddles the buffer's end: take the checked slow path once.
                self.skip(self.length("a text length"))
                left -= 1


def _parse(reader: _Reader, file_path: Path, file_size: int) -> GGUFInfo:
    shown = f"'{file_path.name}'"
    head = reader.take(min(8, file_size))
    if head[:4] != GGUF_MAGIC:
        if len(head) < 4 and GGUF_MAGIC.startswith(head):
            raise reader.cut_short()
        raise _not_gguf(reader, shown, head)
    if len(head) < 8:
        raise reader.cut_short()
    version = _U32.unpack_from(head, 4)[0]
    _check_version(shown, version)

    # The tensor list comes after the metadata: a cut file is reported where it actually ends.
    tensor_count = reader.length("a tensor count", 24, items_follow=False)
    kv_count = reader.length("a metadata count", 13, items_follow=False)

    reader.section = "metadata"
    metadata: dict[str, Any] = {}
    vocab_size: int | None = None
    for _ in range(kv_count):
        key = reader.string()
        value_type = reader.u32()
        if key == TOKENS_KEY and value_type == _ARRAY:
            vocab_size = _skip_token_array(reader)
            continue
        metadata[key] = _read_value(reader, value_type, 0)
    if vocab_size is None:
        arch = metadata.get("general.architecture")
        vocab_size = _as_int(metadata.get(f"{arch}.vocab_size"))

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise reader.damaged(f"general.alignment is {alignment!r}, not a power of two")

    reader.section = "tensor list"
    warnings: list[str] = []
    tensors: list[TensorInfo] = []
    for _ in range(tensor_count):
        tensors.append(_read_tensor_info(reader, alignment, warnings))
    header_end = reader.offset

    data_offset = -(-header_end // alignment) * alignment
    ends = [t.offset + t.nbytes for t in tensors if t.nbytes is not None]
    expected_size = data_offset + max(ends) if ends else (data_offset if tensors else header_end)
    if file_size < expected_size:
        raise ModelFileError(
            f"{shown} is incomplete: {file_size:,} bytes of {expected_size:,} expected — "
            "the download or copy was cut short.",
            hint="Download it again.",
        )
    return GGUFInfo(
        path=file_path,
        file_size=file_size,
        version=version,
        tensor_count=tensor_count,
        metadata=metadata,
        data_offset=data_offset,
        expected_size=expected_size,
        warnings=tuple(warnings),
        vocab_size=vocab_size,
        alignment=alignment,
        tensors=tuple(tensors),
    )


def _check_version(shown: str, version: int) -> None:
    if version in SUPPORTED_VERSIONS:
        return
    if version == 1:
        raise ModelFileError(
            f"{shown} uses GGUF version 1, which is too old for llama.cpp.",
            hint="Download a current GGUF of this model or convert it with a recent llama.cpp.",
        )
    if int.from_bytes(version.to_bytes(4, "little"), "big") in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"{shown} is a big-endian GGUF, which this computer cannot load.",
            hint="Download the ordinary (little-endian) GGUF of this model.",
        )
    raise ModelFileError(
        f"{shown} uses GGUF version {version}, which this app does not support "
        f"(it reads versions {SUPPORTED_VERSIONS[0]} to {SUPPORTED_VERSIONS[-1]}).",
        hint="Update Gemma Desktop, or download the model in a supported GGUF version.",
    )


def _not_gguf(reader: _Reader, shown: str, head: bytes) -> ModelFileError:
    start = head + reader.take(min(reader.remaining, 24))
    text = start.decode("utf-8", errors="replace")
    if text.startswith("version https://git-lfs"):
        return ModelFileError(
            f"{shown} is not a GGUF model file but a Git LFS pointer (a small text placeholder).",
            hint="Download the real file, e.g. with 'git lfs pull' or from the model page.",
        )
    if text.lstrip().lower().startswith(("<!doctype", "<html")):
        return ModelFileError(
            f"{shown} is not a GGUF model file but a web page (HTML).",
            hint="The download saved an error or login page; download the .gguf file again.",
        )
    if start[:8].isascii() and start[:8].decode("ascii").isprintable():
        what = f"it starts with '{start[:8].decode('ascii')}…'"
    else:
        what = f"it starts with the bytes {start[:4].hex(' ')}"
    return ModelFileError(
        f"{shown} is not a GGUF model file ({what}).",
        hint="Choose a .gguf model file, for example one from Hugging Face.",
    )


def _skip_token_array(reader: _Reader) -> int:
    item_type = reader.u32()
    if item_type != _STRING:
        _read_array_body(reader, item_type, 1)
        raise reader.damaged(f"{TOKENS_KEY} holds {_type_name(item_type)} values, not text")
    count = reader.length("a vocabulary size", 8)
    reader.skip_strings(count)
    return count


def _read_value(reader: _Reader, value_type: int, depth: int) -> Any:
    scalar = _SCALARS.get(value_type)
    if scalar is not None:
        return reader.unpack(_SCALAR_STRUCTS[value_type])
    if value_type == _STRING:
        return reader.string()
    if value_type == _ARRAY:
        return _read_array_body(reader, reader.u32(), depth + 1)
    raise reader.damaged(f"unknown metadata value type {value_type}")


def _read_array_body(reader: _Reader, item_type: int, depth: int) -> list[Any] | ArraySummary:
    if depth > _MAX_ARRAY_DEPTH:
        raise reader.damaged("metadata arrays are nested too deeply")
    scalar = _SCALARS.get(item_type)
    if scalar is not None:
        fmt = _SCALAR_STRUCTS[item_type]
        count = reader.length("an array length", fmt.size)
        if count > ARRAY_KEEP_LIMIT:
            reader.skip(count * fmt.size)
            return ArraySummary(scalar[0], count)
        return list(struct.unpack(f"<{count}{scalar[1]}", reader.take(count * fmt.size)))
    if item_type == _STRING:
        count = reader.length("an array length", 8)
        if count > ARRAY_KEEP_LIMIT:
            reader.skip_strings(count)
            return ArraySummary("string", count)
        return [reader.string() for _ in range(count)]
    if item_type == _ARRAY:
        count = reader.length("an array length", 12)
        items = [_read_array_body(reader, reader.u32(), depth + 1) for _ in range(count)]
        return ArraySummary("array", count) if count > ARRAY_KEEP_LIMIT else items
    raise reader.damaged(f"unknown metadata array type {item_type}")


def _read_tensor_info(reader: _Reader, alignment: int, warnings: list[str]) -> TensorInfo:
    name = reader.string()
    n_dims = reader.u32()
    if n_dims > _MAX_DIMS:
        raise reader.damaged(f"tensor {name!r} claims {n_dims} dimensions")
    dims = tuple(reader.u64() for _ in range(n_dims))
    ggml_type = reader.u32()
    offset = reader.u64()
    if offset % alignment:
        raise reader.damaged(f"tensor {name!r} starts at {offset}, not a multiple of {alignment}")
    known = GGML_TYPES.get(ggml_type)
    if known is None:
        warnings.append(
            f"Tensor {name!r} has ggml type {ggml_type}, unknown to this app; its size was not "
            "checked (llama.cpp may still load it if it is newer)."
        )
        return TensorInfo(name, dims, ggml_type, offset, None)
    type_name, block_elements, _ = known
    if dims and dims[0] % block_elements:
        raise reader.damaged(
            f"tensor {name!r} has rows of {dims[0]} values, not a multiple of the "
            f"{type_name} block size {block_elements}"
        )
    nbytes = ggml_nbytes(ggml_type, dims)
    if nbytes is None or nbytes > _MAX_TENSOR_BYTES or offset > _MAX_TENSOR_BYTES:
        raise reader.damaged(f"tensor {name!r} has an impossible size {dims}")
    return TensorInfo(name, dims, ggml_type, offset, nbytes)


def _type_name(value_type: int) -> str:
    return _TYPE_NAMES.get(value_type, f"type {value_type}")


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_int(value: Any) -> int | None:
    # bool is an int subclass; a boolean where a number belongs is not a number.
    return value if isinstance(value, int) and not isinstance(value, bool) else None
