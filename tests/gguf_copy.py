"""Test helper: copy a GGUF with some metadata changed, using llama.cpp's gguf package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# llama.cpp's token types: 1 normal, 3 control (special tokens such as turn markers).
CONTROL = 3


def copy_gguf(
    src: Path,
    dst: Path,
    changes: dict[str, Any],
    remove: tuple[str, ...] = (),
    control_tokens: dict[int, str] | None = None,
) -> Path:
    """Write dst = src with `changes` set (str, int, float, bool) and `remove` keys dropped.

    `control_tokens` renames vocabulary entries and makes them control tokens: the weights
    are unchanged, so the model still predicts the same ids, now spelled as those markers.
    """
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
        value = field.contents()
        if control_tokens and key == "tokenizer.ggml.tokens":
            value = list(value)
            for token_id, text in control_tokens.items():
                value[token_id] = text
        elif control_tokens and key == "tokenizer.ggml.token_type":
            value = list(value)
            for token_id in control_tokens:
                value[token_id] = CONTROL
        writer.add_key_value(key, value, main_type, sub_type=sub_type)
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
