"""Test helper: copy a GGUF with some metadata changed, using llama.cpp's gguf package."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def copy_gguf(src: Path, dst: Path, changes: dict[str, Any], remove: tuple[str, ...] = ()) -> Path:
    """Write dst = src with `changes` set (str, int, float, bool) and `remove` keys dropped."""
    from gguf import GGUFReader, GGUFValueType, GGUFWriter

    reader = GGUFReader(str(src))
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(str(dst), arch=arch, endianess=reader.endianess)
    skip = {"general.architecture", *remove, *changes}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in skip:
            continue
        main_type = field.types[0]
        sub_type = field.types[-1] if main_type == GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), main_type, sub_type=sub_type)
    for key, value in changes.items():
        if isinstance(value, bool):
            writer.add_key_value(key, value, GGUFValueType.BOOL)
        elif isinstance(value, int):
            writer.add_key_value(key, value, GGUFValueType.INT32)
        elif isinstance(value, float):
            writer.add_key_value(key, value, GGUFValueType.FLOAT32)
        else:
            writer.add_key_value(key, str(value), GGUFValueType.STRING)
    for tensor in reader.tensors:
        writer.add_tensor_info(
            tensor.name,
            tensor.data.shape,
            tensor.data.dtype,
            tensor.data.nbytes,
            tensor.tensor_type,
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return dst
