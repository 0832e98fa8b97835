"""Renders chat templates with Python's Jinja2, set up as HuggingFace's
apply_chat_template sets it up, and writes tokenizer/testdata/chat-templates.json
for tokenizer.ChatTemplate's tests.

The templates are written here in the shapes of the chat formats of widely
used models (ChatML as Qwen2.5 uses it, Llama 3, Llama 2 and Mistral's
[INST], Zephyr's tags without whitespace control, Gemma's turns, Qwen3's
reasoning blocks) so that the Go side meets what those templates use:
trim_blocks and lstrip_blocks, loop variables, namespace, slicing, string
methods, filters, tests and raise_exception.

    apt-get install python3-jinja2
    /usr/bin/python3 tools/golden/jinja_chat.py
"""

import json
import pathlib
import random

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

OUT = pathlib.Path(__file__).resolve().parents[2] / "tokenizer" / "testdata" / "chat-templates.json"


def environment():
    # transformers' _compile_jinja_template (chat_template_utils.py).
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env


TEMPLATES = {
    "chatml": (
        {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        """{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- else %}
    {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "system" and not loop.first) or message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
""",
    ),
    "llama3": (
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
        """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{%- if system_message %}
    {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" + system_message + "<|eot_id|>" }}
{%- endif %}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
""",
    ),
    "inst": (
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
        """{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token }}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
""",
    ),
    "zephyr": (
        {"bos_token": "<s>", "eos_token": "</s>"},
        """{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>
' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>
'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}""",
    ),
    "gemma": (
        {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "additional_special_tokens": ["<start_of_turn>", "<end_of_turn>"]},
        """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- set role = "model" if message['role'] == 'assistant' else message['role'] -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {{- message['content'] | trim }}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{ '<start_of_turn>model\\n' }}
{%- endif -%}
""",
    ),
    "reasoning": (
        {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        """{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- elif '</think>' in content %}
            {%- set reasoning_content = content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') %}
            {%- set content = content.split('</think>')[-1].lstrip('\\n') %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + '\\n</think>\\n\\n' + content.lstrip('\\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\\n' + content }}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}""",
    ),
    "json": (
        {"bos_token": "<s>", "eos_token": "</s>"},
        """{%- set roles = {'user': 'USER', 'assistant': 'ASSISTANT', 'system': 'SYSTEM'} %}
{%- for message in messages %}
{{ loop.index }}/{{ messages|length }} {{ roles[message.role] }}: {{ message | tojson }} {{ message.content|length }} {{ message.content.lower()|replace('e', 'E') }} {{ message.role.upper() }}
{%- if loop.index is even %} even{% endif %}
{% if message.role == 'assistant' and loop.last %}{% break %}{% endif %}
{%- endfor %}
{{ messages|map(attribute='role')|join(',') }} {{ (messages|selectattr('role', 'equalto', 'user')|list)|length }} {{ 'x' * 3 }} {{ [1, 2, 3]|sum }}
{%- if add_generation_prompt %}{{ eos_token ~ '|' }}{% endif %}""",
    ),
}

# A template in the shape of Qwen2.5's, with its tools section and Hermes
# <tool_call> blocks: rendered with and without tools, over conversations
# with tool calls and tool responses (TOOL_CONVERSATIONS).
HERMES = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# A template that writes values with tojson(indent=...), as Llama 3.1's
# writes its tools: rendered over TOOL_CONVERSATIONS with TOOLS. Its last
# lines filter a chain of filters, a literal, and write the words as text.
INDENTED = """{%- for tool in tools %}
{{ tool | tojson(indent=4) }}
{%- endfor %}
{%- for m in messages %}
{%- set x = m.role | tojson(indent=2) %}
{{ x }}
{{- messages[loop.index0]['content'] | tojson(indent=1) }}
{%- endfor %}
{{ values | tojson(indent=3) }}
{{ values.nested.a | list | tojson(indent=2) }} {{ 'values | tojson(indent=2)' }}
{{ {'z': values.none, 'a': values.t} | tojson (indent = 2) | trim }}"""

VALUES = {"floats": [1.0, 0.5, 1e-05, 0.0001, 123456.789, 1e16, 2.5e16, -0.0, 3.0e-7], "ints": [0, -7, 12345678901],
          "empty": {}, "none": None, "t": True, "f": False, "text": 'a "quote" \\ back\nslash\ttab \x01 <b>&amp; ünï 世界 🙂',
          "nested": {"z": [], "a": [{"k": "v"}, [1, [2]]]}}

# A template in the shape of Llama 3.1's with tools: an ipython
# environment line, the tools as indented JSON in the first user turn, an
# assistant's call as a JSON object with "parameters", tool answers in
# ipython turns (one call a turn: two are refused).
LLAMA31 = """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- if tools is not none %}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
    {%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\\n\\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\\n\\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\\n\\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\\n\\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

# A template in the shape of Mistral 7B Instruct v0.3's with tools: the
# tools in [AVAILABLE_TOOLS] before the last user turn, calls as
# [TOOL_CALLS] [...] with ids of 9 characters, answers in [TOOL_RESULTS].
MISTRAL = """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
        {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}
"""

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city, now.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "e.g. Zürich"},
                                                                                      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                                                     "required": ["city"]}}},
    {"type": "function", "function": {"name": "add", "description": "Adds two integers.",
                                      "parameters": {"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "integer"}}}}},
]


def call(id, name, args):
    return {"id": id, "type": "function", "function": {"name": name, "arguments": args}}


TOOL_CONVERSATIONS = {
    "a question": [{"role": "user", "content": "Weather in Zürich?"}],
    "a call and its answer": [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather in Zürich, and 2+40?"},
        {"role": "assistant", "content": None, "tool_calls": [call("c1", "get_weather", {"city": "Zürich", "unit": "celsius"}), call("c2", "add", {"b": 40, "a": 2})]},
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21, "sky": "clear"}'},
        {"role": "tool", "tool_call_id": "c2", "content": "42"},
        {"role": "assistant", "content": "21 °C and clear; 42."},
        {"role": "user", "content": "Thanks"},
    ],
    "one call": [
        {"role": "system", "content": "Be useful."},
        {"role": "user", "content": "Weather in Bern?"},
        {"role": "assistant", "content": None, "tool_calls": [call("c9", "get_weather", {"city": "Bern"})]},
        {"role": "tool", "tool_call_id": "c9", "content": '{"temp": 3}'},
    ],
    "mistral ids": [
        {"role": "system", "content": "Be useful."},
        {"role": "user", "content": "Weather in Bern?"},
        {"role": "assistant", "content": None, "tool_calls": [call("a1b2c3d4e", "get_weather", {"city": "Bern"}), call("zz9zz9zz9", "add", {"a": 1, "b": 2})]},
        {"role": "tool", "tool_call_id": "a1b2c3d4e", "content": '{"temp": 3}'},
        {"role": "tool", "tool_call_id": "zz9zz9zz9", "content": "3"},
        {"role": "assistant", "content": "3 degrees; 3."},
        {"role": "user", "content": "Thanks"},
    ],
    "text and a call": [
        {"role": "user", "content": "Add 1 and 2"},
        {"role": "assistant", "content": "Let me add.", "tool_calls": [call("x", "add", {"a": 1, "b": 2, "note": None, "nested": {"list": [1, "two", True, False]}})]},
        {"role": "tool", "tool_call_id": "x", "content": "3"},
    ],
}


def go_message(m):
    """A message as tokenizer.Message decodes it."""
    out = {"role": m["role"], "content": m.get("content") or ""}
    if "tool_calls" in m:
        out["tool_calls"] = [{"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]} for c in m["tool_calls"]]
    if "tool_call_id" in m:
        out["tool_call_id"] = m["tool_call_id"]
    return out


CONVERSATIONS = {
    "one turn": [{"role": "user", "content": "Hello!"}],
    "system and turns": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "unicode and braces": [
        {"role": "user", "content": '  Grüße, 世界 — "quotes" \'and\' {{ not a tag }} {% neither %}\n\n'},
        {"role": "assistant", "content": "Tab\there; a backslash \\ and émoji 🙂."},
    ],
    "two users": [{"role": "user", "content": "first"}, {"role": "user", "content": "second"}],
    "reasoning": [
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "<think>\nBecause I thought.\n</think>\n\nBecause."},
        {"role": "user", "content": "Sure?"},
        {"role": "assistant", "content": "<think>\nYes.\n</think>\n\nYes."},
    ],
    # As a client sends back the replies of a server that separates the
    # reasoning (reasoning_content, as vLLM's and attn serve's).
    "reasoning apart": [
        {"role": "user", "content": "Why?"},
        {"role": "assistant", "content": "Because.", "reasoning_content": "Because I thought."},
        {"role": "user", "content": "Sure?"},
        {"role": "assistant", "content": "Yes.", "reasoning_content": "\nYes, I am.\n"},
    ],
}

# Variables passed beside the conversation, as apply_chat_template's keyword
# arguments (chat_template_kwargs in vLLM's and attn serve's requests).
VARS = [{"enable_thinking": False}, {"enable_thinking": True}]


def random_templates(n):
    """Templates of random pieces: texts of spaces, tabs and line breaks
    around words, expressions, comments, if and for blocks and raw blocks,
    each tag with or without its - and + markers. They test that a text
    between tags is stripped as Jinja2's lexer strips it (trim_blocks,
    lstrip_blocks, the markers), whatever surrounds it."""
    rng = random.Random(7)
    texts = ["", " ", "  ", "\n", "\n\n", " \n ", "\t", "x", " y ", "a\n  ", "\n  b", "  \n"]

    def mark(left):
        return rng.choice(["", "", "-", "+"] if left else ["", "", "-"])

    def piece(depth):
        k = rng.randrange(7 if depth < 2 else 4)
        if k == 0:
            return rng.choice(texts)
        if k == 1:
            return "{{" + mark(True).replace("+", "") + " " + rng.choice(["'e'", "messages|length", "bos_token"]) + " " + mark(False) + "}}"
        if k == 2:
            return "{#" + mark(True).replace("+", "") + " c " + mark(False) + "#}"
        if k == 3:
            return rng.choice(texts) + rng.choice(texts)
        body = "".join(piece(depth + 1) for _ in range(rng.randrange(1, 4)))
        if k == 4:
            return "{%" + mark(True) + " if true " + mark(False) + "%}" + body + "{%" + mark(True) + " endif " + mark(False) + "%}"
        if k == 5:
            return "{%" + mark(True) + " for m in messages " + mark(False) + "%}" + body + "{%" + mark(True) + " endfor " + mark(False) + "%}"
        return "{%" + mark(True) + " raw " + mark(False) + "%}" + rng.choice(texts) + " {{ x }} " + rng.choice(texts) + "{%" + mark(True) + " endraw " + mark(False) + "%}"

    return ["".join(piece(0) for _ in range(rng.randrange(2, 7))) for _ in range(n)]


def main():
    env = environment()
    cases = []
    for name, (special, src) in TEMPLATES.items():
        tmpl = env.from_string(src)
        for conv, msgs in CONVERSATIONS.items():
            for gen in (False, True):
                case = {"template": name, "conversation": conv, "add_generation_prompt": gen}
                try:
                    case["text"] = tmpl.render(messages=msgs, add_generation_prompt=gen, **special)
                except jinja2.exceptions.TemplateError as e:
                    case["error"] = str(e)
                cases.append(case)
        for conv, msgs in CONVERSATIONS.items():
            for vars in VARS:
                case = {"template": name, "conversation": conv, "add_generation_prompt": True, "vars": vars}
                try:
                    case["text"] = tmpl.render(messages=msgs, add_generation_prompt=True, **special, **vars)
                except jinja2.exceptions.TemplateError as e:
                    case["error"] = str(e)
                cases.append(case)
    indented = env.from_string(INDENTED)
    indented_cases = [{"conversation": conv, "text": indented.render(messages=msgs, tools=TOOLS, values=VALUES)} for conv, msgs in TOOL_CONVERSATIONS.items()]
    tools_cases = []
    for name, src in (("hermes", HERMES), ("llama31", LLAMA31), ("mistral", MISTRAL)):
        tmpl = env.from_string(src)
        for conv, msgs in TOOL_CONVERSATIONS.items():
            for tools in (None, TOOLS):
                for gen in (False, True):
                    case = {"template": name, "conversation": conv, "tools": tools is not None, "add_generation_prompt": gen}
                    try:
                        case["text"] = tmpl.render(messages=msgs, tools=tools, add_generation_prompt=gen, bos_token="<|begin_of_text|>", eos_token="</s>")
                    except jinja2.exceptions.TemplateError as e:
                        case["error"] = str(e)
                    tools_cases.append(case)
    whitespace = []
    for src in random_templates(600):
        try:
            whitespace.append({"source": src, "text": env.from_string(src).render(messages=CONVERSATIONS["one turn"] * 2, add_generation_prompt=False, bos_token="<s>")})
        except jinja2.exceptions.TemplateError:
            pass
    out = {
        "whitespace": whitespace,
        "source": "tools/golden/jinja_chat.py, Python Jinja2 " + jinja2.__version__ + " set up as transformers' apply_chat_template",
        "templates": {k: {"special": s, "source": t} for k, (s, t) in TEMPLATES.items()},
        "conversations": CONVERSATIONS,
        "cases": cases,
        "indented": {"source": INDENTED, "values": VALUES, "cases": indented_cases},
        "hermes": {"source": HERMES, "llama31": LLAMA31, "mistral": MISTRAL, "tools": TOOLS, "conversations": {k: [go_message(m) for m in v] for k, v in TOOL_CONVERSATIONS.items()},
                   "cases": tools_cases},
    }
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print(f"{OUT}: {len(cases)} cases, {sum('error' in c for c in cases)} refused; {len(whitespace)} random templates; {len(tools_cases)} with tools")


if __name__ == "__main__":
    main()
