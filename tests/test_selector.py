"""Label selectors: the same syntax and answers as kubectl / apimachinery's labels.Parse.

Cases are taken from apimachinery's ``pkg/labels/selector_test.go`` where one exists, so a
difference from ``kubectl get -l`` shows up here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.spec.selector import Operator, Requirement, Selector, SelectorError, parse_selector, select
from controller.spec.types import Band, MarketMakerSpec, MarketRef

# (selector, labels, matches)
MATCHES = [
    ("", {"x": "y"}, True),
    ("", {}, True),
    ("x=y", {"x": "y"}, True),
    ("x==y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),  # in and notin as key and value
    ("x", {"x": "z"}, True),
    ("x", {"x": ""}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x<1", {"x": "2"}, False),
    ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    # != and notin match when the key is absent
    ("x!=y", {}, True),
    ("x notin (a,b)", {}, True),
    ("x notin (a,b)", {"x": "a"}, False),
    ("x notin (a,b)", {"x": "c"}, True),
    ("x in (foo),y notin (alpha)", {"x": "foo", "y": "baz"}, True),
    ("x in (foo),y in (alpha)", {"x": "foo", "y": "baz"}, False),
    ("x notin (),y", {"y": ""}, True),
    ("!x,y", {"y": ""}, True),
    ("x notin (),!y", {"y": ""}, False),
    ("x in ()", {"y": "baz"}, False),
    ("x in ()", {"x": ""}, True),
    ("x=", {"x": ""}, True),
    ("x=", {"x": "a"}, False),
    ("x=", {}, False),
    ("x in (a,,b)", {"x": ""}, True),
    ("z>1", {"z": "2"}, True),
    ("z>1", {"z": "v2"}, False),  # not an integer: no match
    ("z>1", {}, False),
    ("z<1", {}, False),
    ("z>1", {"z": "+5"}, True),  # what Go's strconv.ParseInt accepts
    ("z<1", {"z": "-5"}, True),
    ("z>1", {"z": " 5"}, False),
    ("z>1", {"z": "1_000"}, False),
    ("z<1", {"z": "-9223372036854775809"}, False),  # outside int64
    ("z>0", {"z": "9223372036854775807"}, True),
    ("app.kubernetes.io/name=bandctl", {"app.kubernetes.io/name": "bandctl"}, True),
    ("env in (prod, staging), tier notin (canary), !paused", {"env": "prod", "tier": "web"}, True),
    ("env in (prod, staging), tier notin (canary), !paused", {"env": "prod", "paused": "true"}, False),
]


@pytest.mark.parametrize(("selector", "labels", "expected"), MATCHES)
def test_matches_like_apimachinery(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector).matches(labels) is expected


# (input, canonical string: apimachinery's String(), requirements sorted by key)
PARSES = [
    ("x=a,y=b,z=c", "x=a,y=b,z=c"),
    ("", ""),
    ("x!=a,y=b", "x!=a,y=b"),
    ("x=", "x="),
    ("x= ", "x="),
    ("x=,z= ", "x=,z="),
    ("x= ,z= ", "x=,z="),
    ("!x", "!x"),
    ("x>1", "x>1"),
    ("x>1,z<5", "x>1,z<5"),
    ("x=a,a=x", "a=x,x=a"),
    ("\rx", "x"),
    ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
    (
        "this-is-another-dns.domain.com/key-with-dash in (so,what)",
        "this-is-another-dns.domain.com/key-with-dash in (so,what)",
    ),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
    ("foo  in\t (abc)", "foo in (abc)"),
    ("x notin\n (abc)", "x notin (abc)"),
    ("x  notin\t\t\t(abc,def)", "x notin (abc,def)"),
    ("x in (abc,)", "x in (,abc)"),
    ("x in ()", "x in ()"),
    ("x notin ( )", "x notin ()"),
    ("x notin (, a)", "x notin (,a)"),
    ("x in (b,a,b)", "x in (a,b)"),
    ("x notin (abc,def),bar,z in (),w", "bar,w,x notin (abc,def),z in ()"),
    ("x,y in (a)", "x,y in (a)"),
    ("x,y", "x,y"),
    ("a ", "a"),
    ("a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"),
    ("in in (in)", "in in (in)"),
    ("x==a", "x==a"),
    ("x != a", "x!=a"),
    ("1foo in (bar),1234", "1234,1foo in (bar)"),
    ("a_b.c-d=E_f.G-h", "a_b.c-d=E_f.G-h"),
    ("k=" + "v" * 63, "k=" + "v" * 63),
    ("a.b/" + "n" * 63, "a.b/" + "n" * 63),
]


@pytest.mark.parametrize(("text", "canonical"), PARSES)
def test_parses_like_apimachinery(text: str, canonical: str) -> None:
    selector = parse_selector(text)
    assert str(selector) == canonical
    assert parse_selector(canonical) == selector


def test_parsed_structure() -> None:
    assert parse_selector("x notin (b,a),!y,z,w>3") == Selector(
        (
            Requirement("w", Operator.GREATER_THAN, ("3",)),
            Requirement("x", Operator.NOT_IN, ("a", "b")),
            Requirement("y", Operator.DOES_NOT_EXIST),
            Requirement("z", Operator.EXISTS),
        )
    )
    assert parse_selector("").empty and not parse_selector("x").empty


# (input, the message after "invalid selector '<input>': ")
ERRORS = [
    (
        "x=a||y=b",
        "invalid value 'a||y' for x: must be empty or alphanumeric characters, '-', '_' or '.', "
        "starting and ending with an alphanumeric character",
    ),
    ("x==a==b", "found '==' at character 5, expected: ',' or end of string"),
    ("!x=a", "found '=' at character 3, expected: ',' or end of string"),
    ("x<a", "x: for > and < the value must be an integer (got 'a')"),
    ("x>", "x: for > and < the value must be an integer (got '')"),
    ("x>99999999999999999999", "x: for > and < the value must be an integer (got '99999999999999999999')"),
    ("x>=1", "found '=' at character 3, expected: a value"),
    ("x,,y", "found ',' at character 3, expected: a key after ','"),
    (",x,y", "found ',' at character 1, expected: !, a key or end of string"),
    ("x nott in (y)", "found 'nott' at character 3, expected: in, notin, =, ==, !=, > or < after the key"),
    ("a in (xyz),", "found end of string at character 12, expected: a key after ','"),
    ("a in (xyz)b notin ()", "found 'b' at character 11, expected: ',' or end of string"),
    ("a in (xyz abc)", "found 'abc' at character 11, expected: ',' or ')'"),
    ("a notin(", "found end of string at character 9, expected: ',', ')' or a value"),
    ("a in (b", "found end of string at character 8, expected: ',' or ')'"),
    ("a in (b,=)", "found '=' at character 9, expected: ',', ')' or a value"),
    ("a in b", "found 'b' at character 6, expected: '('"),
    ("a (", "found '(' at character 3, expected: in, notin, =, ==, !=, > or < after the key"),
    ("(", "found '(' at character 1, expected: !, a key or end of string"),
    ("!!x", "found '!' at character 2, expected: a key"),
    ("!", "found end of string at character 2, expected: a key"),
    ("x=(a)", "found '(' at character 3, expected: a value"),
    ("a" * 64, "invalid key '" + "a" * 64 + "': the name must be at most 63 characters"),
    ("a" * 254, "invalid key '" + "a" * 80 + "…': the name must be at most 63 characters"),
    (
        "-a",
        "invalid key '-a': the name must be alphanumeric characters, '-', '_' or '.', "
        "starting and ending with an alphanumeric character",
    ),
    ("a/b/c", "invalid key 'a/b/c': at most one '/' (an optional DNS subdomain prefix, then a name)"),
    ("/a", "invalid key '/a': the prefix before '/' must not be empty"),
    ("a/", "invalid key 'a/': the name must not be empty"),
    (
        "Example.com/a",
        "invalid key 'Example.com/a': the prefix must be a DNS subdomain (lowercase letters, digits, '-' and '.')",
    ),
    (
        "x=-y",
        "invalid value '-y' for x: must be empty or alphanumeric characters, '-', '_' or '.', "
        "starting and ending with an alphanumeric character",
    ),
    ("x=" + "v" * 64, "invalid value '" + "v" * 64 + "' for x: must be at most 63 characters"),
    ("x in (a, b c)", "found 'c' at character 12, expected: ',' or ')'"),
    (
        "x=ü",
        "invalid value 'ü' for x: must be empty or alphanumeric characters, '-', '_' or '.', "
        "starting and ending with an alphanumeric character",
    ),
    ("x=a\x00b", "unexpected character '\\x00' at character 4"),
    ("x=a\x1bb", "unexpected character '\\x1b' at character 4"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_bad_selectors_give_one_line(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    line = str(caught.value)
    assert "\n" not in line
    assert line.endswith(": " + message)
    assert line.startswith("invalid selector '")


def spec(name: str, **labels: str) -> MarketMakerSpec:
    band = Band(*(Decimal(v) for v in ("0.01", "0.02", "0.03", "1", "2", "3")))
    return MarketMakerSpec(
        name=name,
        market=MarketRef("0x" + "ab" * 32, "1", "2"),
        bands=(band,),
        labels=tuple(sorted(labels.items())),
    )


def test_select_keeps_the_specs_order() -> None:
    fleet = [spec("a", env="prod"), spec("b", env="dev"), spec("c"), spec("d", env="prod", tier="canary")]
    assert [s.name for s in select(fleet, "env=prod")] == ["a", "d"]
    assert [s.name for s in select(fleet, "env!=prod")] == ["b", "c"]
    assert [s.name for s in select(fleet, parse_selector("env=prod,tier notin (canary)"))] == ["a"]
    assert [s.name for s in select(fleet, "")] == ["a", "b", "c", "d"]
    assert select(fleet, "!env") == [fleet[2]]
    assert select(fleet, "env=") == []
    with pytest.raises(SelectorError, match="expected: a key after ','"):
        select(fleet, "env=prod,")


# ----------------------------------------------------------------- properties

_names = st.from_regex(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?\Z")
_keys = st.one_of(_names, st.tuples(st.sampled_from(["a.b", "example.com", "x"]), _names).map("/".join))
_values = st.one_of(st.just(""), _names)


@st.composite
def _requirements(draw: st.DrawFn) -> Requirement:
    key = draw(_keys)
    op = draw(st.sampled_from(list(Operator)))
    if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        return Requirement(key, op)
    if op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        return Requirement(key, op, (str(draw(st.integers(min_value=0, max_value=10**6))),))
    if op in (Operator.IN, Operator.NOT_IN):
        return Requirement(key, op, tuple(sorted(set(draw(st.lists(_values, min_size=1, max_size=4))))))
    return Requirement(key, op, (draw(_values),))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(_requirements(), max_size=5))
def test_the_canonical_string_parses_back_to_the_same_selector(requirements: list[Requirement]) -> None:
    selector = Selector(tuple(sorted(requirements, key=lambda r: r.key)))
    assert parse_selector(str(selector)) == selector


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from(list("ab=!(),<> \tin1-_./\x00é")), max_size=30))
def test_any_text_parses_or_gives_a_selector_error(text: str) -> None:
    try:
        selector = parse_selector(text)
    except SelectorError as exc:
        assert "\n" not in str(exc)
    else:
        assert parse_selector(str(selector)) == selector
