"""Stripe's request contract for the pinned API version, read from the official library.

The ``stripe`` library is generated from Stripe's OpenAPI specification for
exactly one API version (``stripe.api_version``, pinned with the library). For
every operation it ships a ``TypedDict`` of the parameters that version
accepts (``stripe.params.PaymentIntentCreateParams``…), and each service
method names the HTTP method, the path and that ``TypedDict``. This module
reads both at runtime, nothing written by hand, and checks a decoded request
against them the way Stripe does:

- a parameter the version does not define, at any depth, is ``parameter_unknown``;
- a required one left out is ``parameter_missing``;
- a value outside an enum is refused (``Invalid <name>: must be one of …``);
- an integer that is not one is ``parameter_invalid_integer``;
- an empty string where the type has no ``Literal['']`` (the generator's mark
  for "can be unset") is ``parameter_invalid_empty``;
- hashes, arrays, booleans and numbers of the wrong shape are refused.

The generated enums end with ``|str`` so that old libraries keep working when
Stripe adds a value; the API itself refuses values it does not know, so that
``str`` is dropped where a ``Literal`` of values sits beside it.

Parameters that a version removed with a specific error code (documented in
Stripe's changelog, not in the types) are listed in ``REMOVED``.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import import_module
from typing import Any, NotRequired, Required

import stripe
import stripe.params
from stripe import _request_options
from stripe._stripe_context import StripeContext
from stripe._stripe_object import UntypedStripeObject
from stripe._v1_services import _subservices
from typing_extensions import is_typeddict

API_VERSION: str = stripe.api_version

# Removed by a version with their own error code: (params class, name) -> code.
# 2026-09-30.endive, "Removes the payment method types parameter from Payment Intents and
# Setup Intents": create, update and confirm answer 400 payment_method_types_no_longer_supported.
REMOVED: dict[tuple[str, str], str] = {
    (operation, "payment_method_types"): "payment_method_types_no_longer_supported"
    for operation in (
        "PaymentIntentCreateParams",
        "PaymentIntentUpdateParams",
        "PaymentIntentConfirmParams",
        "SetupIntentCreateParams",
        "SetupIntentUpdateParams",
    )
}


class ContractError(Exception):
    """What Stripe answers (400, ``invalid_request_error``) to a request outside the contract."""

    def __init__(self, message: str, *, param: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


# The types ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    kind: str  # "string", "integer", "number", "boolean", "any"


@dataclass(frozen=True)
class Enum:
    values: tuple[str, ...]


@dataclass(frozen=True)
class Array:
    item: Node


@dataclass(frozen=True)
class Map:
    value: Node


@dataclass(frozen=True)
class Union:
    options: tuple[Node, ...]
    emptyable: bool  # Literal[''] is one of them: "" unsets the parameter


@dataclass(frozen=True, eq=False)
class Hash:
    """A ``TypedDict``: its fields are read on first use (the types nest, some deeply)."""

    typed_dict: type
    _fields: dict[str, tuple[Node, bool]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.typed_dict.__name__

    @property
    def fields(self) -> dict[str, tuple[Node, bool]]:
        """Each parameter's type and whether it is required."""
        if not self._fields:
            self._fields.update(_fields_of(self.typed_dict))
        return self._fields


Node = Scalar | Enum | Array | Map | Union | Hash

_SCALARS = {str: "string", int: "integer", float: "number", Decimal: "number", bool: "boolean"}
# The names the library's request options use in their annotations (resolved lazily there).
_NAMESPACE = {**vars(_request_options), "StripeContext": StripeContext}


def _fields_of(typed_dict: type) -> dict[str, tuple[Node, bool]]:
    hints = typing.get_type_hints(typed_dict, localns=_NAMESPACE, include_extras=True)
    # The operation's params extend RequestOptions (api_key, idempotency_key…): the
    # library's own options, sent as headers, never as parameters.
    bases = getattr(typed_dict, "__orig_bases__", ())
    client_side = (
        set(_request_options.RequestOptions.__annotations__)
        if _request_options.RequestOptions in bases
        else set()
    )
    required = typed_dict.__required_keys__  # type: ignore[attr-defined]
    return {
        name: (node_of(hint), name in required)
        for name, hint in hints.items()
        if name not in client_side
    }


@functools.cache
def _hash(typed_dict: type) -> Hash:
    return Hash(typed_dict)


def node_of(hint: Any) -> Node:
    """The contract node for one annotation of the generated types."""
    origin = typing.get_origin(hint)
    if origin in (NotRequired, Required, typing.Annotated):
        return node_of(typing.get_args(hint)[0])
    if origin in (typing.Union, types.UnionType):
        return _union(typing.get_args(hint))
    if origin is typing.Literal:
        return _union((hint,))
    if origin in (list, collections.abc.Sequence, collections.abc.Iterable):
        return Array(node_of(typing.get_args(hint)[0]))
    if origin in (dict, collections.abc.Mapping) or origin is UntypedStripeObject:
        return Map(node_of(typing.get_args(hint)[-1]))
    if is_typeddict(hint):
        return _hash(hint)
    if hint is Any:
        return Scalar("any")
    if hint in _SCALARS:
        return Scalar(_SCALARS[hint])
    raise TypeError(f"no contract rule for the annotation {hint!r}")


def _union(options: tuple[Any, ...]) -> Node:
    literals: list[str] = []
    others: list[Any] = []
    for option in options:
        if typing.get_origin(option) is typing.Literal:
            literals.extend(typing.get_args(option))
        else:
            others.append(option)
    emptyable = "" in literals
    values = tuple(value for value in literals if value != "")
    if values and str in others:
        others.remove(str)  # the library's open enum; the API knows only these values
    nodes: list[Node] = [Enum(values)] if values else []
    nodes += [node_of(option) for option in others]
    if len(nodes) == 1 and not emptyable:
        return nodes[0]
    return Union(tuple(nodes), emptyable)


# The operations -------------------------------------------------------------------

_REQUEST = re.compile(r'self\._request\(\s*"(get|post|delete)",\s*"(/v1/[^"]*)"')


@dataclass(frozen=True)
class Operation:
    method: str  # "GET", "POST", "DELETE"
    path: str  # "/v1/payment_intents/{intent}/capture"
    params: Hash

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(self.path)))


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every ``/v1`` operation of the library's services, with its parameter types."""
    found: dict[tuple[str, str], Operation] = {}
    for module_name, class_name in _subservices.values():
        service = getattr(import_module(module_name), class_name)
        for name, function in inspect.getmembers(service, inspect.isfunction):
            if name.startswith("_") or name.endswith("_async"):
                continue
            match = _REQUEST.search(inspect.getsource(function))
            annotation = inspect.signature(function).parameters.get("params")
            if match is None or annotation is None:
                continue
            typed_dict = getattr(stripe.params, _params_name(annotation.annotation))
            key = (match.group(1).upper(), match.group(2))
            found[key] = Operation(key[0], key[1], _hash(typed_dict))
    return tuple(found.values())


def _params_name(annotation: Any) -> str:
    """``Optional["PaymentIntentCaptureParams"]`` (a string or a typing object): the name."""
    if isinstance(annotation, str):
        return re.sub(r"^Optional\[|\]$|[\"']", "", annotation)
    argument = typing.get_args(annotation)[0]
    if isinstance(argument, typing.ForwardRef):
        return argument.__forward_arg__
    return argument.__name__


def operation(method: str, path: str) -> Operation:
    """The operation serving ``method path`` (a literal path beats one with an id in it)."""
    candidates = [op for op in operations() if op.method == method and op.pattern.fullmatch(path)]
    if not candidates:
        raise LookupError(f"the stripe library has no operation {method} {path}")
    return min(candidates, key=lambda op: op.path.count("{"))


# Checking a request ----------------------------------------------------------------


def validate(method: str, path: str, params: dict[str, Any]) -> Operation:
    """Check decoded request parameters against the operation's contract (``ContractError``)."""
    op = operation(method, path)
    for name in params:
        code = REMOVED.get((op.params.name, name))
        if code is not None:
            raise ContractError(
                f"{name} is no longer supported on API version {API_VERSION}.",
                param=name,
                code=code,
            )
    _check(op.params, params, "")
    return op


def _join(path: str, name: str | int) -> str:
    return str(name) if not path else f"{path}[{name}]"


def _leaf(path: str) -> str:
    return path.rsplit("[", 1)[-1].rstrip("]")


def _check(node: Node, value: Any, path: str) -> None:
    if isinstance(node, Union):
        _check_union(node, value, path)
    elif isinstance(node, Hash):
        _check_hash(node, value, path)
    elif isinstance(node, Array):
        if not isinstance(value, list):
            raise ContractError("Invalid array", param=path)
        for index, item in enumerate(value):
            _check(node.item, item, _join(path, index))
    elif isinstance(node, Map):
        # Metadata: "" unsets a key, or all of them (documented on every ``metadata``).
        if value == "":
            return
        if not isinstance(value, dict):
            raise ContractError("Invalid hash", param=path)
        for key, item in value.items():
            if item != "":
                _check(node.value, item, _join(path, key))
    elif isinstance(node, Enum):
        _check_enum(node, value, path)
    else:
        _check_scalar(node, value, path)


def _empty(path: str) -> ContractError:
    name = _leaf(path)
    return ContractError(
        f"You passed an empty string for '{path}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{path}' "
        "from your request or supply a non-empty value.",
        param=path,
        code="parameter_invalid_empty",
    )


def _check_union(node: Union, value: Any, path: str) -> None:
    if value == "":
        if node.emptyable:
            return
        raise _empty(path)
    errors: list[ContractError] = []
    for option in node.options:
        try:
            _check(option, value, path)
        except ContractError as error:
            errors.append(error)
        else:
            return
    # The most telling refusal: from the option of the value's own shape.
    shaped = [
        error
        for option, error in zip(node.options, errors, strict=True)
        if isinstance(value, dict) == isinstance(option, Hash | Map)
        and isinstance(value, list) == isinstance(option, Array)
    ]
    raise (shaped or errors)[0]


def _check_hash(node: Hash, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise ContractError("Invalid hash", param=path)
    fields = node.fields
    for name in value:
        if name not in fields:
            param = _join(path, name)
            raise ContractError(
                f"Received unknown parameter: {param}", param=param, code="parameter_unknown"
            )
    for name, (_, required) in fields.items():
        if required and name not in value:
            param = _join(path, name)
            raise ContractError(
                f"Missing required param: {param}.", param=param, code="parameter_missing"
            )
    for name, item in value.items():
        _check(fields[name][0], item, _join(path, name))


def _check_enum(node: Enum, value: Any, path: str) -> None:
    if value == "":
        raise _empty(path)
    if not isinstance(value, str) or value not in node.values:
        choices = list(node.values)
        listed = f"{', '.join(choices[:-1])}, or {choices[-1]}" if len(choices) > 1 else choices[0]
        # Stripe documents no error code for this refusal: there is none to match on.
        raise ContractError(f"Invalid {_leaf(path)}: must be one of {listed}", param=path)


def _check_scalar(node: Scalar, value: Any, path: str) -> None:
    if node.kind == "any":
        return
    if not isinstance(value, str):
        raise ContractError(f"Invalid {node.kind}: {value!r}", param=path)
    if value == "":
        raise _empty(path)
    if node.kind == "integer" and not re.fullmatch(r"-?\d+", value):
        raise ContractError(
            f"Invalid integer: {value}", param=path, code="parameter_invalid_integer"
        )
    if node.kind == "number" and not re.fullmatch(r"-?(\d+\.?\d*|\.\d+)", value):
        raise ContractError(f"Invalid decimal: {value}", param=path)
    if node.kind == "boolean" and value not in ("true", "false"):
        raise ContractError(f"Invalid boolean: {value}", param=path)


def walk(node: Node, seen: set[str] | None = None) -> int:
    """Read every type under ``node`` (a ``TypeError`` names one with no rule); how many hashes."""
    seen = set() if seen is None else seen
    if isinstance(node, Hash):
        if node.name in seen:
            return 0
        seen.add(node.name)
        return 1 + sum(walk(child, seen) for child, _ in node.fields.values())
    if isinstance(node, Union):
        return sum(walk(option, seen) for option in node.options)
    if isinstance(node, Array):
        return walk(node.item, seen)
    if isinstance(node, Map):
        return walk(node.value, seen)
    return 0


# Error codes ------------------------------------------------------------------------


@functools.cache
def documented_error_codes() -> frozenset[str]:
    """The error codes the pinned version documents (the library's enum of ``error.code``),
    and those its changelog documents for removed parameters."""
    hint = stripe.PaymentIntent.LastPaymentError.__annotations__["code"]
    literals = [a for a in typing.get_args(hint) if typing.get_origin(a) is typing.Literal]
    return frozenset(v for literal in literals for v in typing.get_args(literal)) | frozenset(
        REMOVED.values()
    )


# Checking an answer -----------------------------------------------------------------

_LIST_FIELDS = {"object", "data", "has_more", "url"}


def _annotations(cls: type) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        for name, hint in vars(klass).get("__annotations__", {}).items():
            if not name.startswith("_") and name.upper() != name:
                found[name] = hint
    return found


def _optional(hint: Any) -> bool:
    if isinstance(hint, str):
        return hint.startswith("Optional[") or "None" in hint
    return typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in (
        typing.get_args(hint)
    )


def answer_problems(obj: dict[str, Any], cls: type | None = None, path: str = "") -> list[str]:
    """How an object the fake answers differs from the library's generated resource type:
    fields the type does not define, and required (not nullable) fields left out."""
    if cls is None:
        from stripe._object_classes import get_object_class

        cls = get_object_class("V1", obj["object"])
        path = obj["object"]
    fields = _annotations(cls)
    inner = getattr(cls, "_inner_class_types", {})
    problems = [f"{path}.{name}: not defined" for name in obj if name not in fields]
    problems += [
        f"{path}.{name}: required, missing"
        for name, hint in fields.items()
        if name not in obj and not _optional(hint)
    ]
    for name, value in obj.items():
        if isinstance(value, dict) and value.get("object") == "list":
            problems += [
                f"{path}.{name}.{key}: not defined" for key in value if key not in _LIST_FIELDS
            ]
            items = value["data"]
        else:
            items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                continue
            if name in inner:
                problems += answer_problems(item, inner[name], f"{path}.{name}")
            elif "object" in item and item["object"] != "list":
                problems += answer_problems(item)
    return problems
