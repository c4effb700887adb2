"""The CEL subset of KFP v2 trigger conditions, evaluated as the KFP driver does.

A task's ``triggerPolicy.condition`` is a CEL expression over the task's resolved
inputs (``inputs.parameter_values['p']``, ``inputs.artifacts['a'].artifacts[0]
.metadata['k']`` / ``.uri``). The KFP driver evaluates it with cel-go before the task
runs and skips the task when it is false. The replay cannot link cel-go, so this is
the part of CEL that compilers write there: TFX's ``placeholder_to_cel`` (literals,
index and member access, ``+``, ``==`` ``<`` ``>``, ``!``, ``&&`` ``||``) and the kfp
SDK's (``!=`` ``<=`` ``>=``, ``int()`` ``double()`` ``string()`` ``size()``,
``parseJson()``). Anything else raises ConditionError naming it, never a guess.
"""
from __future__ import annotations

import ast
import json
import re


class ConditionError(ValueError):
    """The condition uses CEL this evaluator does not know, or fails as cel-go would."""


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+u?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+<>!.\[\](),])
""", re.VERBOSE)
_FUNCTIONS = ("int", "double", "string", "size", "parseJson")
_NUMBER = (int, float)


def _tokens(text: str) -> list:
    found, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ConditionError(f"unsupported CEL at {text[position:position + 20]!r}")
        kind = match.lastgroup
        if kind != "space":
            found.append((kind, match.group(kind)))
        position = match.end()
    return found + [("end", "")]


class _Parser:
    """Recursive descent: || < && < comparison < + - < unary ! - < member/index/call."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self, *values) -> bool:
        kind, value = self.tokens[self.at]
        return value in values and kind in ("op", "name")

    def take(self, value=None):
        kind, text = self.tokens[self.at]
        if value is not None and text != value:
            raise ConditionError(f"expected {value!r} in {self.text!r}, found {text or 'the end'!r}")
        self.at += 1
        return kind, text

    def parse(self):
        tree = self.logical_or()
        if self.tokens[self.at][0] != "end":
            raise ConditionError(f"unsupported CEL at {self.tokens[self.at][1]!r} in "
                                 f"{self.text!r}")
        return tree

    def logical_or(self):
        tree = self.logical_and()
        while self.peek("||"):
            self.take()
            tree = ("||", tree, self.logical_and())
        return tree

    def logical_and(self):
        tree = self.comparison()
        while self.peek("&&"):
            self.take()
            tree = ("&&", tree, self.comparison())
        return tree

    def comparison(self):
        tree = self.additive()
        while self.peek("==", "!=", "<", "<=", ">", ">="):
            tree = (self.take()[1], tree, self.additive())
        return tree

    def additive(self):
        tree = self.unary()
        while self.peek("+", "-"):
            tree = (self.take()[1], tree, self.unary())
        return tree

    def unary(self):
        if self.peek("!"):
            self.take()
            return ("!", self.unary())
        if self.peek("-"):
            self.take()
            return ("neg", self.unary())
        return self.postfix()

    def postfix(self):
        tree = self.primary()
        while True:
            if self.peek("."):
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise ConditionError(f"expected a field name after '.' in {self.text!r}")
                tree = ("field", tree, name)
            elif self.peek("["):
                self.take()
                index = self.logical_or()
                self.take("]")
                tree = ("index", tree, index)
            else:
                return tree

    def primary(self):
        kind, text = self.take()
        if kind == "number":
            if text.endswith("u"):
                raise ConditionError(f"unsigned literal {text} is not supported")
            return ("literal", float(text) if any(c in text for c in ".eE") else int(text))
        if kind == "string":
            return ("literal", ast.literal_eval(text))
        if kind == "name":
            if text in ("true", "false", "null"):
                return ("literal", {"true": True, "false": False, "null": None}[text])
            if self.peek("("):
                if text not in _FUNCTIONS:
                    raise ConditionError(f"CEL function {text}() is not supported (known: "
                                         f"{', '.join(_FUNCTIONS)})")
                self.take("(")
                argument = self.logical_or()
                self.take(")")
                return ("call", text, argument)
            return ("variable", text)
        if text == "(":
            tree = self.logical_or()
            self.take(")")
            return tree
        raise ConditionError(f"unsupported CEL at {text or 'the end'!r} in {self.text!r}")


def _compare(op, left, right):
    if isinstance(left, bool) or isinstance(right, bool):
        same = isinstance(left, bool) and isinstance(right, bool)
    else:
        same = (isinstance(left, _NUMBER) and isinstance(right, _NUMBER)) or type(left) is type(right)
    if op == "==":
        return same and left == right
    if op == "!=":
        return not (same and left == right)
    if not same or not isinstance(left, (int, float, str)):
        raise ConditionError(f"no such overload: {left!r} {op} {right!r}")
    return {"<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[op]


def _call(name, value):
    try:
        if name == "int":
            return int(value) if not isinstance(value, str) else int(value.strip())
        if name == "double":
            return float(value)
        if name == "string":
            return value if isinstance(value, str) else json.dumps(value)
        if name == "size":
            return len(value)
        if not isinstance(value, str):
            raise ConditionError(f"parseJson() takes a string, got {value!r}")
        return json.loads(value)
    except (TypeError, ValueError) as error:
        raise ConditionError(f"{name}({value!r}) failed: {error}") from None


def _evaluate(tree, variables):
    kind = tree[0]
    if kind == "literal":
        return tree[1]
    if kind == "variable":
        if tree[1] not in variables:
            raise ConditionError(f"undeclared reference to {tree[1]!r} (the condition sees "
                                 f"{', '.join(sorted(variables))})")
        return variables[tree[1]]
    if kind in ("field", "index"):
        container = _evaluate(tree[1], variables)
        key = tree[2] if kind == "field" else _evaluate(tree[2], variables)
        if isinstance(container, list) and isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(container):
                raise ConditionError(f"index {key} out of range (size {len(container)})")
            return container[key]
        if isinstance(container, dict):
            if key not in container:
                raise ConditionError(f"no such key: {key!r} (has {sorted(container)})")
            return container[key]
        raise ConditionError(f"cannot select {key!r} from {container!r}")
    if kind == "call":
        return _call(tree[1], _evaluate(tree[2], variables))
    if kind == "!":
        value = _evaluate(tree[1], variables)
        if not isinstance(value, bool):
            raise ConditionError(f"no such overload: !{value!r}")
        return not value
    if kind == "neg":
        value = _evaluate(tree[1], variables)
        if not isinstance(value, _NUMBER) or isinstance(value, bool):
            raise ConditionError(f"no such overload: -{value!r}")
        return -value
    if kind in ("&&", "||"):
        left = _evaluate(tree[1], variables)
        if not isinstance(left, bool):
            raise ConditionError(f"no such overload: {left!r} {kind} ...")
        if (kind == "&&" and not left) or (kind == "||" and left):
            return left
        right = _evaluate(tree[2], variables)
        if not isinstance(right, bool):
            raise ConditionError(f"no such overload: ... {kind} {right!r}")
        return right
    left, right = _evaluate(tree[1], variables), _evaluate(tree[2], variables)
    if kind in ("+", "-"):
        numbers = all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in (left, right))
        if kind == "+" and (numbers or (type(left) is type(right) and isinstance(left, (str, list)))):
            return left + right
        if kind == "-" and numbers:
            return left - right
        raise ConditionError(f"no such overload: {left!r} {kind} {right!r}")
    return _compare(kind, left, right)


def check(condition: str) -> None:
    """Parse only: ConditionError if the condition is outside the supported CEL."""
    _Parser(condition).parse()


def evaluate(condition: str, executor_input: dict) -> bool:
    """The condition on an ExecutorInput given as a dict with proto field names
    (``inputs.parameter_values``), as the driver's cel-go environment declares it."""
    value = _evaluate(_Parser(condition).parse(), executor_input)
    if not isinstance(value, bool):
        raise ConditionError(f"return type is not bool, got {value!r}")
    return value
