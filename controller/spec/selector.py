"""Kubernetes label selectors (``env=prod,tier notin (canary),!paused``) over manifest labels.

Exists so that commands can act on part of a fleet the way ``kubectl -l`` does, with the
same syntax and the same answers: the grammar, lexer quirks, key and value rules and
matching follow apimachinery's ``pkg/labels/selector.go``. In particular ``!=`` and
``notin`` match when the key is absent, an empty selector matches everything, and ``a=``
asks for the empty value. May not know anything else about specs than their labels.

Grammar (comma = AND)::

    selector    ::= "" | requirement ("," requirement)*
    requirement ::= "!" KEY | KEY | KEY ("=" | "==" | "!=" | ">" | "<") VALUE
                  | KEY ("in" | "notin") "(" VALUE ("," VALUE)* ")"

Whitespace (space, tab, CR, LF) separates tokens and is otherwise ignored.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from controller.spec.types import MarketMakerSpec
from controller.spec.wording import show


class SelectorError(ValueError):
    """A selector that does not parse; ``str()`` is one line naming the problem."""


class Operator(enum.Enum):
    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = ">"
    LESS_THAN = "<"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


_INT64 = range(-(2**63), 2**63)
_INT_RE = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.ParseInt(s, 10, 64) accepts


def _as_int64(text: str) -> int | None:
    if not _INT_RE.fullmatch(text):
        return None
    value = int(text)
    return value if value in _INT64 else None


@dataclass(frozen=True)
class Requirement:
    """One condition on one key. ``values`` are sorted and unique."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        present = self.key in labels
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        # > and <: both sides must read as 64-bit integers, else no match
        actual = _as_int64(labels[self.key]) if present else None
        bound = _as_int64(self.values[0])
        if actual is None or bound is None:
            return False
        return actual > bound if op is Operator.GREATER_THAN else actual < bound

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return f"!{self.key}"
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({','.join(self.values)})"
        return f"{self.key}{op.value}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """All ``requirements`` must match (sorted by key, as apimachinery keeps them)."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def select(specs: Iterable[MarketMakerSpec], selector: Selector | str) -> list[MarketMakerSpec]:
    """The specs whose ``metadata.labels`` match, in their order. A string is parsed first."""
    chosen = parse_selector(selector) if isinstance(selector, str) else selector
    return [spec for spec in specs if chosen.matches(dict(spec.labels))]


def parse_selector(text: str) -> Selector:
    """Parse ``text`` as ``kubectl -l`` would; raise ``SelectorError`` if it does not parse."""
    try:
        requirements = _Parser(text).parse()
    except _Problem as problem:
        raise SelectorError(f"invalid selector {show(text)}: {problem}") from None
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


# --------------------------------------------------------------------------- lexing


class _Problem(Exception):
    pass


class _Tok(enum.Enum):
    END = "end of string"
    IDENT = "identifier"
    COMMA = ","
    OPEN = "("
    CLOSE = ")"
    NOT = "!"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER = ">"
    LESS = "<"
    IN = "in"
    NOT_IN = "notin"


_WHITESPACE = " \t\r\n"
_SPECIAL = "=!(),><"
_SYMBOLS = {t.value: t for t in (_Tok.COMMA, _Tok.OPEN, _Tok.CLOSE, _Tok.NOT, _Tok.EQUALS)} | {
    t.value: t for t in (_Tok.DOUBLE_EQUALS, _Tok.NOT_EQUALS, _Tok.GREATER, _Tok.LESS)
}
_KEYWORDS = {"in": _Tok.IN, "notin": _Tok.NOT_IN}


@dataclass(frozen=True)
class _Token:
    kind: _Tok
    text: str
    position: int  # 1-based, for messages

    def shown(self) -> str:
        return "end of string" if self.kind is _Tok.END else show(self.text)


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i == n:
            tokens.append(_Token(_Tok.END, "", i + 1))
            return tokens
        start = i
        if text[i] in _SPECIAL:
            # Longest run of special characters that is still a symbol: "!=" and "==" are
            # one token, "=!" two, as in apimachinery's scanSpecialSymbol.
            end = i + 1
            while end < n and text[end] in _SPECIAL and text[i : end + 1] in _SYMBOLS:
                end += 1
            i = end
            tokens.append(_Token(_SYMBOLS[text[start:i]], text[start:i], start + 1))
            continue
        while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
            if text[i] == "\x00" or not text[i].isprintable():
                raise _Problem(f"unexpected character {show(text[i])} at character {i + 1}")
            i += 1
        word = text[start:i]
        tokens.append(_Token(_KEYWORDS.get(word, _Tok.IDENT), word, start + 1))


# --------------------------------------------------------------------------- parsing


_BINARY = {
    _Tok.IN: Operator.IN,
    _Tok.NOT_IN: Operator.NOT_IN,
    _Tok.EQUALS: Operator.EQUALS,
    _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
    _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
    _Tok.GREATER: Operator.GREATER_THAN,
    _Tok.LESS: Operator.LESS_THAN,
}


class _Parser:
    """apimachinery's recursive-descent parser, token for token (it never recurses deeply)."""

    def __init__(self, text: str) -> None:
        self._tokens = _lex(text)
        self._at = 0

    def _peek(self, *, values: bool = True) -> _Token:
        return self._as_value(self._tokens[self._at]) if values else self._tokens[self._at]

    def _take(self, *, values: bool = True) -> _Token:
        token = self._peek(values=values)
        self._at += 1
        return token

    @staticmethod
    def _as_value(token: _Token) -> _Token:
        # Where a key or value is expected, "in" and "notin" are plain words: "in in (in)".
        if token.kind in (_Tok.IN, _Tok.NOT_IN):
            return _Token(_Tok.IDENT, token.text, token.position)
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token = self._peek()
            if token.kind is _Tok.END:
                return requirements
            if token.kind not in (_Tok.IDENT, _Tok.NOT):
                raise _Problem(
                    f"found {token.shown()} at character {token.position}, expected: !, a key or end of string"
                )
            requirements.append(self._requirement())
            after = self._take()
            if after.kind is _Tok.END:
                return requirements
            if after.kind is not _Tok.COMMA:
                raise _Problem(f"found {after.shown()} at character {after.position}, expected: ',' or end of string")
            following = self._peek()
            if following.kind not in (_Tok.IDENT, _Tok.NOT):
                raise _Problem(
                    f"found {following.shown()} at character {following.position}, expected: a key after ','"
                )

    def _requirement(self) -> Requirement:
        negated = self._peek().kind is _Tok.NOT
        if negated:
            self._take()
        key_token = self._take()
        if key_token.kind is not _Tok.IDENT:
            raise _Problem(f"found {key_token.shown()} at character {key_token.position}, expected: a key")
        key = key_token.text
        _check_key(key)
        if negated:
            return Requirement(key, Operator.DOES_NOT_EXIST)
        if self._peek().kind in (_Tok.END, _Tok.COMMA):
            return Requirement(key, Operator.EXISTS)
        op_token = self._take(values=False)
        operator = _BINARY.get(op_token.kind)
        if operator is None:
            raise _Problem(
                f"found {op_token.shown()} at character {op_token.position}, "
                "expected: in, notin, =, ==, !=, > or < after the key"
            )
        values = self._value_set() if operator in (Operator.IN, Operator.NOT_IN) else self._exact_value()
        for value in values:
            _check_value(key, value)
        if operator in (Operator.GREATER_THAN, Operator.LESS_THAN) and _as_int64(values[0]) is None:
            raise _Problem(f"{key}: for > and < the value must be an integer (got {show(values[0])})")
        return Requirement(key, operator, tuple(sorted(set(values))))

    def _exact_value(self) -> list[str]:
        if self._peek().kind in (_Tok.END, _Tok.COMMA):
            return [""]  # "a=" asks for the empty value
        token = self._take()
        if token.kind is not _Tok.IDENT:
            raise _Problem(f"found {token.shown()} at character {token.position}, expected: a value")
        return [token.text]

    def _value_set(self) -> list[str]:
        opening = self._take()
        if opening.kind is not _Tok.OPEN:
            raise _Problem(f"found {opening.shown()} at character {opening.position}, expected: '('")
        # Empty entries are the empty value: "()" and "(a,,b)" both contain "".
        values: list[str] = []
        expect_value = True
        while True:
            token = self._take()
            if token.kind is _Tok.CLOSE:
                if expect_value:
                    values.append("")
                return values
            if token.kind is _Tok.COMMA:
                if expect_value:
                    values.append("")
                expect_value = True
            elif token.kind is _Tok.IDENT and expect_value:
                values.append(token.text)
                expect_value = False
            elif token.kind is _Tok.IDENT or (token.kind is _Tok.END and not expect_value):
                raise _Problem(f"found {token.shown()} at character {token.position}, expected: ',' or ')'")
            else:
                raise _Problem(f"found {token.shown()} at character {token.position}, expected: ',', ')' or a value")


# --------------------------------------------------------------------------- key and value rules


_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_SUBDOMAIN_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = "alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"


def _check_key(key: str) -> None:
    """Kubernetes' IsQualifiedName: ``[prefix/]name``, prefix a DNS subdomain, name <= 63."""
    parts = key.split("/")
    if len(parts) > 2:
        raise _Problem(f"invalid key {show(key)}: at most one '/' (an optional DNS subdomain prefix, then a name)")
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            raise _Problem(f"invalid key {show(key)}: the prefix before '/' must not be empty")
        if len(prefix) > 253:
            raise _Problem(f"invalid key {show(key)}: the prefix must be at most 253 characters")
        if not _DNS_SUBDOMAIN_RE.fullmatch(prefix):
            raise _Problem(
                f"invalid key {show(key)}: the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')"
            )
    name = parts[-1]
    if not name:
        raise _Problem(f"invalid key {show(key)}: the name must not be empty")
    if len(name) > 63:
        raise _Problem(f"invalid key {show(key)}: the name must be at most 63 characters")
    if not _NAME_RE.fullmatch(name):
        raise _Problem(f"invalid key {show(key)}: the name must be {_NAME_RULE}")


def _check_value(key: str, value: str) -> None:
    """Kubernetes' IsValidLabelValue: empty, or <= 63 characters of the name alphabet."""
    if len(value) > 63:
        raise _Problem(f"invalid value {show(value)} for {key}: must be at most 63 characters")
    if value and not _NAME_RE.fullmatch(value):
        raise _Problem(f"invalid value {show(value)} for {key}: must be empty or {_NAME_RULE}")
