"""Chat templates written for the tests, shaped like the ones real GGUFs carry."""

from __future__ import annotations

# Gemma 4 shape (written from the published prompt format, not copied): a native system turn,
# "<|think|>" at its start when thinking is on (a system turn is opened for it if there is
# none), "model" turns keep only their final answer, and the generation prompt opens a model
# turn. The 26B/31B files also close an empty thought there when thinking is off.
_GEMMA4_BODY = (
    "{%- macro answer_only(text) -%}"
    "{%- if '<channel|>' in text -%}{{ text.split('<channel|>')[-1] | trim }}"
    "{%- else -%}{{ text | trim }}{%- endif -%}"
    "{%- endmacro -%}"
    "{%- set NL = '\\n' -%}"
    "{{ bos_token }}"
    "{%- set thinking = enable_thinking is defined and enable_thinking -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set sys = messages[0]['content'] | trim -%}{%- set rest = messages[1:] -%}"
    "{%- else -%}{%- set sys = '' -%}{%- set rest = messages -%}{%- endif -%}"
    "{%- if thinking or sys -%}"
    "<|turn>system\n{% if thinking %}<|think|>{% endif %}{{ sys }}<turn|>{{ NL }}"
    "{%- endif -%}"
    "{%- for m in rest -%}"
    "{%- if m['role'] == 'assistant' -%}<|turn>model\n{{ answer_only(m['content']) }}<turn|>"
    "{{ NL }}"
    "{%- else -%}<|turn>{{ m['role'] }}\n{{ m['content'] | trim }}<turn|>{{ NL }}{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|turn>model{{ NL }}"
    "{%- if EMPTY_THOUGHT and not thinking -%}<|channel>thought{{ NL }}<channel|>{%- endif -%}"
    "{%- endif -%}"
)
GEMMA4_SMALL_STYLE = "{%- set EMPTY_THOUGHT = false -%}" + _GEMMA4_BODY
GEMMA4_LARGE_STYLE = "{%- set EMPTY_THOUGHT = true -%}" + _GEMMA4_BODY

# A reasoning model that opens the thought in the generation prompt (Qwen 3 / R1 shape).
OPENS_THINK_STYLE = (
    "{%- for m in messages -%}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor -%}"
    "{%- if add_generation_prompt -%}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false -%}<think>\n\n</think>\n\n"
    "{% else -%}<think>\n{% endif -%}{%- endif -%}"
)
