"""Extract the options Stripe.js accepts from the TypeScript types of ``@stripe/stripe-js``.

The Stripe.js test double (``tests/browser/test_stripe.py``) refuses what Stripe.js
refuses: options it does not define, and values outside its string enums. What
it defines comes from the official package's published types, extracted by this
script into ``stripe_js_options.json`` (committed, with the package version)::

    cd /tmp && npm pack @stripe/stripe-js@10.2.1 && tar xzf stripe-stripe-js-10.2.1.tgz
    .venv/bin/python -m tests.browser.stripe_js_contract /tmp/package > tests/browser/stripe_js_options.json

It reads the ``.d.ts`` declarations with a small parser that knows the few forms
these types use (interfaces with ``extends``, type aliases, ``|`` and ``&``,
object literals, string literals); anything else is left open (accepted).
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

ENTRY_POINTS = {
    # Stripe(publishableKey, options)
    "Stripe": "StripeConstructorOptions",
    # stripe.elements(options) in deferred-intent mode: the shop's payment form
    "elements": "StripeElementsOptionsModePayment",
    # elements.create("payment", options)
    "create:payment": "StripePaymentElementOptions",
}
_DECLARATION = re.compile(
    r"(?:export\s+)?(?:declare\s+)?(interface|type)\s+(\w+)(?:<[^>{=]*>)?"
    r"(?:\s+extends\s+([\w\s,.<>]+?))?\s*([={])"
)
_PRIMITIVES = {"string", "number", "boolean", "null", "undefined", "any", "unknown", "object"}


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", text)


def _closing(text: str, start: int, opening: str = "{", closing: str = "}") -> int:
    """The index just after the bracket matching the one at ``start``."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == opening:
            depth += 1
        elif text[index] == closing:
            depth -= 1
            if depth == 0:
                return index + 1
    raise ValueError("unbalanced brackets")


def _split(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets and quotes."""
    parts, depth, quote, current = [], 0, "", []
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "{(<[":
            depth += 1
        elif char in "})>]":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def read_declarations(package: Path) -> dict[str, tuple[list[str], str]]:
    """Every interface and type alias: name -> (what it extends, its body or expression)."""
    declarations: dict[str, tuple[list[str], str]] = {}
    for path in sorted((package / "dist").rglob("*.d.ts")):
        text = _strip_comments(path.read_text())
        for match in _DECLARATION.finditer(text):
            _, name, extends, opener = match.groups()
            start = match.end() - 1
            if opener == "{":
                end = _closing(text, start)
                body = text[start:end]
            else:
                end = start + 1
                depth = 0
                while end < len(text):
                    char = text[end]
                    depth += int(char in "{(<[") - int(char in "})>]")
                    if char == ";" and depth == 0:
                        break
                    end += 1
                body = text[start + 1 : end]
            bases = _split(extends, ",") if extends else []
            declarations.setdefault(name, (bases, body.strip()))
    return declarations


class Resolver:
    def __init__(self, declarations: dict[str, tuple[list[str], str]]) -> None:
        self.declarations = declarations

    def resolve(self, expression: str, depth: int = 0) -> dict[str, Any]:
        """A spec: ``{"keys": {...}, "required": [...]}`` and/or ``{"values": [...]}``; {} is open."""
        expression = expression.strip().rstrip(";").strip()
        if depth > 8:
            return {}
        alternatives = _split(expression, "|")
        if len(alternatives) > 1:
            return self._union([self.resolve(a, depth + 1) for a in alternatives])
        parts = _split(expression, "&")
        if len(parts) > 1:
            return self._intersection([self.resolve(p, depth + 1) for p in parts])
        if expression.startswith("{"):
            return self._object(expression, depth)
        if expression.startswith("(") and expression.endswith(")"):
            return self.resolve(expression[1:-1], depth + 1)
        if re.fullmatch(r"'[^']*'|\"[^\"]*\"", expression):
            return {"values": [expression[1:-1]]}
        if expression in _PRIMITIVES or expression.endswith("[]") or "<" in expression:
            return {}
        if expression == "never":
            return {"never": True}
        declaration = self.declarations.get(expression)
        if declaration is None:
            return {}
        bases, body = declaration
        own = self.resolve(body, depth + 1)
        return self._intersection([*(self.resolve(b, depth + 1) for b in bases), own])

    def _object(self, body: str, depth: int) -> dict[str, Any]:
        keys: dict[str, Any] = {}
        required: list[str] = []
        for member in _split(body[1:-1].replace("\n", " "), ";"):
            for item in _split(member, ","):
                match = re.fullmatch(r"(\w+)(\?)?\s*:\s*(.+)", item, flags=re.DOTALL)
                if match is None:
                    continue  # an index signature, a method: left open
                name, optional, type_ = match.groups()
                spec = self.resolve(type_, depth + 1)
                if spec.get("never"):
                    continue  # ``clientSecret?: never``: not an option here
                keys[name] = spec
                if not optional:
                    required.append(name)
        return {"keys": keys, "required": required}

    @staticmethod
    def _intersection(specs: list[dict[str, Any]]) -> dict[str, Any]:
        if len(specs) == 1:
            return specs[0]
        keys: dict[str, Any] = {}
        required: list[str] = []
        for spec in specs:
            keys.update(spec.get("keys", {}))
            required += [name for name in spec.get("required", []) if name not in required]
        return {"keys": keys, "required": required} if keys else {}

    @staticmethod
    def _union(specs: list[dict[str, Any]]) -> dict[str, Any]:
        if any(not spec for spec in specs):
            return {}  # one alternative is open (a string, a number…): anything goes
        result: dict[str, Any] = {}
        values = [v for spec in specs for v in spec.get("values", [])]
        if values:
            result["values"] = values
        objects = [spec for spec in specs if "keys" in spec]
        if objects:
            keys: dict[str, Any] = {}
            for spec in objects:
                keys.update(spec["keys"])
            required = set.intersection(*(set(spec["required"]) for spec in objects))
            result.update(keys=keys, required=sorted(required))
        return result


def extract(package: Path) -> dict[str, Any]:
    resolver = Resolver(read_declarations(package))
    version = json.loads((package / "package.json").read_text())["version"]
    options = {entry: resolver.resolve(type_) for entry, type_ in ENTRY_POINTS.items()}
    stripe_d_ts = _strip_comments((package / "dist" / "stripe-js" / "stripe.d.ts").read_text())
    next_action = re.search(r"handleNextAction\(options:\s*(\{[^}]*\})", stripe_d_ts)
    if next_action:
        options["handleNextAction"] = resolver.resolve(next_action.group(1))
    return {
        "package": "@stripe/stripe-js",
        "version": version,
        "types": ENTRY_POINTS,
        "options": options,
    }


if __name__ == "__main__":
    json.dump(extract(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
