#!/usr/bin/env python3
"""Reference renderer for the chat-template tests (not run by the build).

Renders a template the way Hugging Face transformers does in apply_chat_template
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, its own
tojson / raise_exception / strftime_now), so the expected strings in
ChatTemplateModelsTest can be regenerated or checked with Python's jinja2:

    python3 reference_render.py templates/llama3-instruct.jinja messages.json [--gen] [bos] [eos]

messages.json is a JSON list of {"role", "content"} objects (or a full
{"messages": [...], ...extra variables} object); --gen sets add_generation_prompt; bos and eos
default to <s> and </s>. Prints the render as a JSON string, or "raised: <message>".
Set REFERENCE_NOW=2025-03-05T10:30:00 to pin what strftime_now sees.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    # REFERENCE_NOW=2025-03-15T10:30:00 pins "now", like ChatTemplate.withClock in the tests
    fixed = os.environ.get("REFERENCE_NOW")
    return (datetime.fromisoformat(fixed) if fixed else datetime.now()).strftime(fmt)


class Generation(Extension):
    """{% generation %}...{% endgeneration %} renders its body (HF's AssistantTracker, minus the tracking)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def compile_template(source):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def render(source, messages, add_generation_prompt, bos, eos, **extra):
    return compile_template(source).render(
        messages=messages, add_generation_prompt=add_generation_prompt,
        bos_token=bos, eos_token=eos, **extra)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--gen"]
    with open(args[0], encoding="utf-8") as f:
        src = f.read()
    with open(args[1], encoding="utf-8") as f:
        data = json.load(f)
    extra = {}
    if isinstance(data, dict):
        extra = dict(data)
        data = extra.pop("messages")
    bos = args[2] if len(args) > 2 else "<s>"
    eos = args[3] if len(args) > 3 else "</s>"
    try:
        out = render(src, data, "--gen" in sys.argv, bos, eos, **extra)
        print(json.dumps(out, ensure_ascii=False))
    except jinja2.exceptions.TemplateError as e:
        print("raised: " + str(e))
