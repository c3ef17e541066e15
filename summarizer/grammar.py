"""JSON Schema -> GBNF grammar for llama.cpp, with bounded repetition.

llama-cpp-python has its own converter, but it spells ``maxLength: 1500`` as 1500 nested
optional rules, which llama.cpp's parser rejects ("exceeds sane defaults") and then
crashes on. GBNF has had ``x{m,n}`` repetition for a while; this converter uses it, so a
bounded string costs one rule however long it may be.

It covers the subset our pydantic models produce: objects (properties emitted in schema
order, optional ones too, which is still valid JSON for the schema), arrays with
min/maxItems, strings with min/maxLength, enums and consts, numbers, booleans, null,
``anyOf`` and local ``$ref``. Bounds keep a small model from writing until it runs out
of tokens in the middle of the JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Used when a schema gives no bound: generous, but finite.
DEFAULT_MAX_STRING = 2000
DEFAULT_MAX_ITEMS = 50

_PRIMITIVES = {
    "ws": "[ ]?",
    # Any character but quote, backslash and control characters, or a JSON escape.
    "char": r'[^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})',
    "integer": '"-"? ([0-9] | [1-9] [0-9]{0,15}) ws',
    "number": '"-"? ([0-9] | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})? ws',
    "boolean": '("true" | "false") ws',
    "null": '"null" ws',
}


def _literal(value: Any) -> str:
    """A GBNF literal matching the JSON encoding of ``value``."""
    return json.dumps(json.dumps(value, ensure_ascii=False), ensure_ascii=False)


class _Converter:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.root_schema = schema
        self.rules: dict[str, str] = {}

    def add(self, name: str, body: str) -> str:
        name = re.sub(r"[^a-zA-Z0-9-]+", "-", name).strip("-") or "rule"
        candidate, n = name, 1
        while candidate in self.rules and self.rules[candidate] != body:
            n += 1
            candidate = f"{name}{n}"
        self.rules[candidate] = body
        return candidate

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if ref is None:
            return schema
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, not {ref!r}")
        node: Any = self.root_schema
        for part in ref[2:].split("/"):
            node = node[part]
        return self.resolve(node)

    def visit(self, schema: dict[str, Any], name: str) -> str:
        schema = self.resolve(schema)
        if "const" in schema:
            return self.add(name, f"{_literal(schema['const'])} ws")
        if "enum" in schema:
            return self.add(name, "(" + " | ".join(_literal(v) for v in schema["enum"]) + ") ws")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.visit(s, f"{name}-{i}") for i, s in enumerate(schema[key])]
                return self.add(name, " | ".join(options))
        kind = schema.get("type")
        if isinstance(kind, list):
            options = [self.visit({**schema, "type": k}, f"{name}-{k}") for k in kind]
            return self.add(name, " | ".join(options))
        if kind == "object":
            return self.object_rule(schema, name)
        if kind == "array":
            return self.array_rule(schema, name)
        if kind == "string":
            low = int(schema.get("minLength", 0))
            high = int(schema.get("maxLength", DEFAULT_MAX_STRING))
            return self.add(name, f'"\\"" char{{{low},{high}}} "\\"" ws')
        if kind in ("integer", "number", "boolean", "null"):
            return str(kind)
        raise ValueError(f"unsupported schema at {name!r}: {schema}")

    def object_rule(self, schema: dict[str, Any], name: str) -> str:
        properties: dict[str, Any] = schema.get("properties", {})
        if not properties:
            return self.add(name, '"{" ws "}" ws')
        parts = []
        for key, subschema in properties.items():
            value = self.visit(subschema, f"{name}-{key}")
            parts.append(f'{_literal(key)} ws ":" ws {value}')
        return self.add(name, '"{" ws ' + ' "," ws '.join(parts) + ' "}" ws')

    def array_rule(self, schema: dict[str, Any], name: str) -> str:
        item = self.visit(schema.get("items", {"type": "string"}), f"{name}-item")
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", DEFAULT_MAX_ITEMS))
        if high == 0:
            return self.add(name, '"[" ws "]" ws')
        rest = f'("," ws {item}){{{max(low - 1, 0)},{high - 1}}}'
        body = f"{item} {rest}"
        if low == 0:
            body = f"({body})?"
        return self.add(name, f'"[" ws {body} "]" ws')


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """Return a GBNF grammar (root rule ``root``) accepting JSON valid for ``schema``."""
    converter = _Converter(schema)
    converter.rules.update(_PRIMITIVES)
    top = converter.visit(schema, "root-value")
    converter.rules["root"] = f"ws {top}"
    return "\n".join(f"{name} ::= {body}" for name, body in converter.rules.items()) + "\n"
