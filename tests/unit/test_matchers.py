"""Matchers: parsing (string and structured forms), Alertmanager matching semantics, RE2 checks, round trips.

Cases marked "AM parse_test" mirror prometheus/alertmanager pkg/labels/parse_test.go (TestMatchers); "AM utf8"
mirror matcher/parse/parse_test.go; "AM matcher_test" mirror pkg/labels/matcher_test.go (TestMatcher,
TestMatcherString).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    equality_index_key,
    matcher_from_obj,
    matches_all,
    parse_matcher,
    parse_matchers,
)

EQ, NE, RE, NRE = MatchType.EQ, MatchType.NE, MatchType.RE, MatchType.NRE


def m(name: str, kind: MatchType, value: str) -> Matcher:
    return Matcher(name, kind, value)


# --- parsing: successes -----------------------------------------------------------------------------------

PARSE_OK = [
    # AM parse_test
    ('{foo="bar"}', [m("foo", EQ, "bar")]),
    ('{foo=~"bar.*"}', [m("foo", RE, "bar.*")]),
    ('{foo!="bar"}', [m("foo", NE, "bar")]),
    ('{foo!~"bar.*"}', [m("foo", NRE, "bar.*")]),
    ('{foo="bar", baz!="quux"}', [m("foo", EQ, "bar"), m("baz", NE, "quux")]),
    ('{foo="bar",baz!~".*quux", derp="wat"}', [m("foo", EQ, "bar"), m("baz", NRE, ".*quux"), m("derp", EQ, "wat")]),
    ('{foo="bar", instance=~"some-api.*"}', [m("foo", EQ, "bar"), m("instance", RE, "some-api.*")]),
    ('{foo=""}', [m("foo", EQ, "")]),
    ('{foo="bar,quux", job="job1"}', [m("foo", EQ, "bar,quux"), m("job", EQ, "job1")]),
    ('{foo = "bar", dings != "bums", }', [m("foo", EQ, "bar"), m("dings", NE, "bums")]),
    ("foo=bar,dings!=bums", [m("foo", EQ, "bar"), m("dings", NE, "bums")]),
    (
        '{quote="She said: \\"Hi, ladies! That\'s gender-neutral…\\""}',
        [m("quote", EQ, "She said: \"Hi, ladies! That's gender-neutral…\"")],
    ),
    ('statuscode=~"5.."', [m("statuscode", RE, "5..")]),
    ("tricky=~~~", [m("tricky", RE, "~~")]),
    (r"trickier==\\=\=\"", [m("trickier", EQ, r'=\=\="')]),
    (
        r'contains_quote != "\"" , contains_comma !~ "foo,bar" , ',
        [m("contains_quote", NE, '"'), m("contains_comma", NRE, "foo,bar")],
    ),
    # AM utf8
    ("", []),
    ("{}", []),
    ("{foo=bar,}", [m("foo", EQ, "bar")]),
    ("{foo=~[a-z]+}", [m("foo", RE, "[a-z]+")]),
    ("{foo=🙂bar}", [m("foo", EQ, "🙂bar")]),
    ("foo=bar,", [m("foo", EQ, "bar")]),
    ('{"foo"="bar"}', [m("foo", EQ, "bar")]),
    ('{"foo"!~"[a-z]+",}', [m("foo", NRE, "[a-z]+")]),
    ('{"foo"="bar\\n"}', [m("foo", EQ, "bar\n")]),
    ('{"foo"="\\"bar\\""}', [m("foo", EQ, '"bar"')]),
    ('{"foo"="bar\\\\"}', [m("foo", EQ, "bar\\")]),
    ('{foo="bar",bar!="baz"}', [m("foo", EQ, "bar"), m("bar", NE, "baz")]),
    # Stormwatch: quoted UTF-8 names, the examples, edge cases
    ('"service.name"="api"', [m("service.name", EQ, "api")]),
    ('"foo bar"=~"x|y"', [m("foo bar", RE, "x|y")]),
    ('a=b, c!="d,e"', [m("a", EQ, "b"), m("c", NE, "d,e")]),
    ('{a="b", c=~"d"}', [m("a", EQ, "b"), m("c", RE, "d")]),
    ("  {  a = b  ,  c =~ d  }  ", [m("a", EQ, "b"), m("c", RE, "d")]),
    ("foo=", [m("foo", EQ, "")]),
    ("{foo=,bar!=}", [m("foo", EQ, ""), m("bar", NE, "")]),
    ("foo=bar baz", [m("foo", EQ, "bar baz")]),
    ("foo=>bar", [m("foo", EQ, ">bar")]),  # classic: unquoted values keep inner spaces, trimmed
    ("foo=~a{2}", [m("foo", RE, "a{2}")]),  # a '{...}' inside an unquoted value belongs to it
    ("{foo=~a{2}}", [m("foo", RE, "a{2}")]),
    ("ns:metric=x", [m("ns:metric", EQ, "x")]),  # both AM parsers accept ':' in names
    ('instance=~"web\\d+"', [m("instance", RE, "web\\d+")]),  # classic: unknown escapes stay literal
    ('a="tab\\there"', [m("a", EQ, "tab\\there")]),  # ...including \t (the UTF-8 parser would read a tab)
    ('a="unicode ✓ 名前"', [m("a", EQ, "unicode ✓ 名前")]),
    ('a="multi\nline"', [m("a", EQ, "multi\nline")]),  # literal line feeds are tolerated (classic)
]


@pytest.mark.parametrize(("text", "expected"), PARSE_OK, ids=[c[0] for c in PARSE_OK])
def test_parse_matchers(text: str, expected: list[Matcher]) -> None:
    assert parse_matchers(text) == expected


PARSE_ONE_OK = [
    ('foo="bar"', m("foo", EQ, "bar")),
    ("foo!=bar", m("foo", NE, "bar")),
    ('foo=~"a|b"', m("foo", RE, "a|b")),
    ('foo!~ "x"', m("foo", NRE, "x")),
    ('severity=~"critical|page"', m("severity", RE, "critical|page")),
    ("  foo  =  bar  ", m("foo", EQ, "bar")),
    ('"🙂"="✓"', m("🙂", EQ, "✓")),
    ('msg="say \\"hi\\" \\\\ bye\\n"', m("msg", EQ, 'say "hi" \\ bye\n')),
    ("foo=", m("foo", EQ, "")),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_ONE_OK, ids=[c[0] for c in PARSE_ONE_OK])
def test_parse_matcher(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


# --- parsing: failures, with what and where ---------------------------------------------------------------

PARSE_BAD = [
    # AM parse_test error cases (messages are ours; the same inputs are refused)
    ('job="value', 5, "unterminated quoted string"),
    ('job=value"', 10, "unescaped double quote"),
    (r'trickier==\\=\=\""', 18, "unescaped double quote"),
    ('contains_unescaped_quote = foo"bar', 31, "unescaped double quote"),
    ('{foo=~"invalid[regexp"}', 7, "invalid regular expression"),
    # AM parse_test "double escaped strings": quoted names are allowed (UTF-8 parser), so each reads as a
    # quoted label name that is not followed by an operator
    ('"{foo=\\"bar"}', 13, "expected an operator"),
    ('"foo=\\"bar"', 12, "expected an operator"),
    ('"foo=\\"bar\\""', 14, "expected an operator"),
    ('"{foo=\\"bar\\"}"', 16, "expected an operator"),
    ('"foo="bar""', 7, "expected an operator ('=', '!=', '=~' or '!~'), found 'b'"),
    # AM utf8 error cases
    (",", 1, "expected a matcher, found ','"),
    ("{,}", 2, "expected a matcher, found ','"),
    ("{", 2, "expected a matcher or '}'"),
    ("}", 1, "unexpected '}' without an opening '{'"),
    ("foo=bar}", 8, "unexpected '}' without an opening '{'"),
    ("{foo=bar", 9, "expected ',' or '}'"),
    # Stormwatch
    ("a=b,,c=d", 5, "expected a matcher, found ','"),
    ('foo="bar"baz', 10, "expected ',' between matchers, found 'b'"),
    ("foo", 4, "expected an operator"),
    ("foo bar", 5, "expected an operator ('=', '!=', '=~' or '!~'), found 'b'"),
    ("foo~=bar", 4, "expected an operator"),
    ("=bar", 1, "expected a label name, found '='"),
    ('""=x', 1, "label name must not be empty"),
    # quoted names as Go's strconv.Unquote reads them (AM utf8), and nothing else
    ('"a\\qb"=x', 3, "unsupported escape '\\q' in a quoted label name"),
    ('"\\ud800"=x', 2, "unsupported escape '\\u' in a quoted label name"),  # a surrogate is no character
    ('"\\xff"=x', 1, "quoted label name is not valid UTF-8"),
    ('"a\nb"=x', 3, "line feed in a quoted label name"),
    # unquoted UTF-8 names end at a reserved character, as in the UTF-8 lexer
    ("foo'bar=x", 4, "expected an operator"),
    ('a="x" b="y"', 7, "expected ',' between matchers"),
]


# UTF-8 label names (the default): names as Alertmanager 0.27+ reads them (its fallback mode takes the UTF-8 parser's
# reading whenever the classic parser refuses the input). Every input of this file was also run through Alertmanager's
# own matcher/parse and pkg/labels (its main branch, built with Go as compat.FallbackMatchersParser combines them):
# the results agree except where docs/rules/matchers.md says Stormwatch differs.
PARSE_UTF8_OK = [
    ("service.name=payments", [m("service.name", EQ, "payments")]),
    ('{"service.name"="payments"}', [m("service.name", EQ, "payments")]),
    ('{k8s.pod.name=~"api-.*", "http.status_code"!="200"}',
     [m("k8s.pod.name", RE, "api-.*"), m("http.status_code", NE, "200")]),
    ('{invalid-name = "valid label"}', [m("invalid-name", EQ, "valid label")]),  # AM utf8: refused only in classic
    ("1abc=x", [m("1abc", EQ, "x")]),
    ("foo🙂=x", [m("foo🙂", EQ, "x")]),
    ('"a\\tb"=x', [m("a\tb", EQ, "x")]),  # Go escapes in names
    ('"\\u00e9t\\xc3\\xa9"=x', [m("été", EQ, "x")]),  # \u and \x (bytes of one UTF-8 character)
    ('"\\101\\U0001F642"=x', [m("A🙂", EQ, "x")]),  # octal, \U
]


@pytest.mark.parametrize(("text", "expected"), PARSE_UTF8_OK, ids=[c[0] for c in PARSE_UTF8_OK])
def test_parse_utf8_names(text: str, expected: list[Matcher]) -> None:
    assert parse_matchers(text) == expected
    assert parse_matchers("{" + ", ".join(map(str, expected)) + "}") == expected  # printed forms read back


# STORMWATCH_LABEL_NAMES=classic: unquoted names are [a-zA-Z_:][a-zA-Z0-9_:]* (quoted ones are read as before)
PARSE_BAD_CLASSIC = [
    ('{invalid-name = "valid label"}', 2, "invalid label name 'invalid-name'"),  # AM parse_test
    ("1abc=x", 1, "invalid label name '1abc'"),
    ("foo🙂=x", 1, 'write other names in double quotes ("foo🙂")'),
    ("service.name=payments", 1, 'write other names in double quotes ("service.name")'),
]


@pytest.mark.parametrize(("text", "column", "message"), PARSE_BAD_CLASSIC, ids=[c[0] for c in PARSE_BAD_CLASSIC])
def test_classic_names_refuse_unquoted_utf8(classic_label_names: None, text: str, column: int, message: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers(text)
    assert message in str(info.value)
    assert info.value.column == column
    assert parse_matchers('"service.name"="payments"') == [m("service.name", EQ, "payments")]


@pytest.mark.parametrize(("text", "column", "message"), PARSE_BAD, ids=[c[0] for c in PARSE_BAD])
def test_parse_matchers_rejects(text: str, column: int, message: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers(text)
    assert message in str(info.value)
    assert info.value.column == column
    assert f"at column {column}" in str(info.value)
    assert info.value.text == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected a matcher, found end of input"),  # AM utf8 TestMatcher "no input"
        ("{foo=bar}", "unexpected brace"),  # AM compat: braces are refused for a single matcher
        ("foo=bar,bar=baz", "expected exactly one matcher"),  # AM utf8 "two or more returns error"
        ('foo="a" x', "unexpected 'x' after the matcher"),
    ],
)
def test_parse_matcher_rejects(text: str, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        parse_matcher(text)


def test_parse_rejects_non_string() -> None:
    with pytest.raises(MatcherError, match="must be given as a string"):
        parse_matchers(b"foo=bar")  # type: ignore[arg-type]


# --- matching semantics -----------------------------------------------------------------------------------

MATCHING = [
    # AM matcher_test TestMatcher (label "x")
    ('x="bar"', "bar", True),
    ('x="bar"', "foo-bar", False),
    ('x!="bar"', "bar", False),
    ('x!="bar"', "foo-bar", True),
    ('x=~"bar"', "bar", True),
    ('x=~"bar"', "foo-bar", False),  # anchored
    ('x=~".*bar"', "foo-bar", True),
    ('x!~"bar"', "bar", False),
    ('x!~"bar"', "foo-bar", True),
    ('x!~".*bar"', "foo-bar", False),
    ('x=~"foo.bar"', "foo-bar", True),
    ('x=~"foo\\\\.bar"', "foo-bar", False),
    ('x=~"foo\\\\.bar"', "foo.bar", True),
    ('x="foo\\nbar"', "foo\nbar", True),
    ('x=~"foo.bar"', "foo\nbar", False),
    ('x=~"(?s)foo.bar"', "foo\nbar", True),
    ('x="~!=\\""', '~!="', True),
    # anchoring, alternation, flags
    ('x=~"b"', "abc", False),
    ('x=~"a|b"', "ab", False),
    ('x=~"a|b"', "b", True),
    ('x=~"critical|page"', "page", True),
    ('x=~"crit"', "critical", False),
    ('x=~"(?i)critical"', "CRITICAL", True),
    ('x=~"(?i:crit)ical"', "CRITical", True),
    ('x=~"(?i:crit)ical"', "critICAL", False),
    ('x=~"a$"', "a\n", False),  # RE2 '$' is the end of the text
    ('x=~"a\\\\z"', "a", True),
    ('x=~"[[:digit:]]+"', "123", True),
    ('x=~"[[:alpha:]_]+"', "ab_c", True),
    ('x=~"[[:alpha:]]+"', "ab1", False),
    ('x=~"\\\\x{1F642}"', "🙂", True),
    ('x=~"\\\\Qa.b\\\\E"', "a.b", True),
    ('x=~"\\\\Qa.b\\\\E"', "axb", False),
    ('x=~"a{,2}"', "a{,2}", True),  # not a repeat in RE2: literal braces
    ('x=~"(?<n>a)b"', "ab", True),  # Go's (?<name>...) group
    ('x=~"\\\\d+"', "123", True),
    ('x=~"\\\\d+"', "١٢٣", False),  # RE2 \d is ASCII; Python's would match Arabic-Indic digits
    ('x=~"\\\\w+"', "é", False),
    ('x=~"(?i)é"', "É", True),  # no \d/\w/\s/\b: Unicode case folding as in RE2
    ('x=~"🙂+"', "🙂🙂", True),
    ('x="名前"', "名前", True),
    ('x=~"[&~|]+"', "&|~", True),
    ('x=~"[]a]+"', "]a]", True),
]


@pytest.mark.parametrize(("text", "value", "expected"), MATCHING, ids=[f"{c[0]} ~ {c[1]!r}" for c in MATCHING])
def test_matching(text: str, value: str, expected: bool) -> None:
    assert parse_matcher(text).matches({"x": value}) is expected


MISSING = [
    # a missing label is the empty string
    ('x="foo"', False),
    ('x=""', True),
    ("x=", True),
    ('x!=""', False),
    ('x!="foo"', True),
    ('x=~".*"', True),
    ('x=~".+"', False),
    ('x!~".+"', True),
    ('x=~""', True),
    ('x!~""', False),
    ('x=~"foo|"', True),
]


@pytest.mark.parametrize(("text", "expected"), MISSING, ids=[c[0] for c in MISSING])
def test_missing_label_is_empty(text: str, expected: bool) -> None:
    matcher = parse_matcher(text)
    assert matcher.matches({"other": "foo"}) is expected
    assert matcher.matches({"x": ""}) is expected  # an empty label is the same as a missing one


def test_ne_empty_matches_only_present_non_empty() -> None:
    matcher = parse_matcher('team!=""')
    assert [matcher.matches(labels) for labels in ({}, {"team": ""}, {"team": "db"})] == [False, False, True]


def test_matches_all() -> None:
    ms = parse_matchers('{alertname="DiskFull", severity=~"critical|page", team!=""}')
    assert matches_all(ms, {"alertname": "DiskFull", "severity": "page", "team": "db"})
    assert not matches_all(ms, {"alertname": "DiskFull", "severity": "page"})
    assert not matches_all(ms, {"alertname": "DiskFull", "severity": "warning", "team": "db"})
    assert matches_all([], {})


# --- RE2: what Go refuses, we refuse ----------------------------------------------------------------------

RE2_REJECTED = [
    ("(a)\\1", "backreference '\\1' is not supported by RE2"),
    ("(?P<n>a)(?P=n)", "named backreference"),
    ("a(?=b)", "lookaround '(?='"),
    ("a(?!b)", "lookaround '(?!'"),
    ("(?<=a)b", "lookaround '(?<='"),
    ("(?<!a)b", "lookaround '(?<!'"),
    ("(a)?(?(1)b|c)", "conditional group"),
    ("(?>a+)", "atomic group"),
    ("a++", "possessive quantifier"),
    ("a*+", "possessive quantifier"),
    ("a{2}+", "possessive quantifier"),
    ("a(?#comment)", "comment group"),
    ("(?x)a b", "flag(s) 'x' not supported"),
    ("(?U)a+", "flag(s) 'U' not supported"),
    ("(?a)\\w", "flag(s) 'a' not supported"),
    ("a\\Z", "'\\Z' is not supported by RE2"),
    ("\\u00e9", "Python syntax"),
    ("\\N{BULLET}", "Python syntax"),
    ("a{1001}", "above RE2's limit of 1000"),
    ("a{1,1001}", "above RE2's limit of 1000"),
    ("\\pL", "Unicode classes"),
    ("[[:^alpha:]]", "negated POSIX class"),
    ("[[:nope:]]", "unknown POSIX class"),
    ("a(?i)b", "flags like (?i) must come first"),
    ("invalid[regexp", "unterminated character set"),
    ("a)|(b", "unbalanced parenthesis"),  # Go would accept ^(?:a)|(b)$, anchoring only one side
    ("a\\", "trailing backslash"),
]


@pytest.mark.parametrize(("pattern", "message"), RE2_REJECTED, ids=[c[0] for c in RE2_REJECTED])
def test_regex_rejected(pattern: str, message: str) -> None:
    with pytest.raises(MatcherError, match="invalid regular expression") as info:
        Matcher("x", RE, pattern)
    assert message in str(info.value)


def test_regex_error_in_parse_points_at_value() -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers('a="b", c=~"(?=x)y"')
    assert info.value.column == 11
    assert "RE2" in str(info.value)


def test_regex_escaped_lookaround_chars_are_literals() -> None:
    # '\(?=' is an optional literal '(' then '=', not a lookahead
    assert Matcher("x", RE, r"\(?=").matches({"x": "(="})
    assert Matcher("x", RE, r"[(?=]+").matches({"x": "(?="})


# --- structured forms -------------------------------------------------------------------------------------

STRUCTURED_OK = [
    ({"name": "severity", "op": "=~", "value": "critical|page"}, m("severity", RE, "critical|page")),
    ({"name": "severity", "value": "critical"}, m("severity", EQ, "critical")),
    ({"name": "team", "op": "!=", "value": ""}, m("team", NE, "")),
    ({"name": "service.name", "op": "!~", "value": "a.*"}, m("service.name", NRE, "a.*")),
    ({"severity": "critical"}, m("severity", EQ, "critical")),
    ({"name": "x"}, m("name", EQ, "x")),  # one key: a label called 'name'
    ('severity=~"critical|page"', m("severity", RE, "critical|page")),
    (m("a", EQ, "b"), m("a", EQ, "b")),
]


@pytest.mark.parametrize(("obj", "expected"), STRUCTURED_OK, ids=[repr(c[0]) for c in STRUCTURED_OK])
def test_matcher_from_obj(obj: object, expected: Matcher) -> None:
    assert matcher_from_obj(obj) == expected


STRUCTURED_BAD = [
    ({"name": "a", "op": "==", "value": "b"}, "op must be one of"),
    ({"name": "a", "op": "=", "value": 5}, "value must be a string"),
    ({"name": "", "value": "b"}, "name must be a non-empty string"),
    ({"name": "a", "value": "b", "regex": True}, "unknown key(s) ['regex']"),
    ({"name": "a", "op": "=~"}, "name and value required"),
    ({"a": "b", "c": "d"}, "or a single {label: value} pair"),
    ({}, "cannot read matcher"),
    ({"code": 500}, "value of 'code' must be a string"),
    ({"name": "a", "op": "=~", "value": "(?=x)"}, "lookaround"),
    (["a", "b"], "must be a string like"),
    (None, "must be a string like"),
    ("foo", "expected an operator"),
]


@pytest.mark.parametrize(("obj", "message"), STRUCTURED_BAD, ids=[repr(c[0]) for c in STRUCTURED_BAD])
def test_matcher_from_obj_rejects(obj: object, message: str) -> None:
    with pytest.raises(MatcherError) as info:
        matcher_from_obj(obj)
    assert message in str(info.value)


def test_constructor_validates() -> None:
    assert Matcher("a", "=~", "b").type is RE  # type: ignore[arg-type]
    with pytest.raises(MatcherError, match="unknown match operator"):
        Matcher("a", "==", "b")  # type: ignore[arg-type]
    with pytest.raises(MatcherError, match="non-empty string"):
        Matcher("", EQ, "b")
    with pytest.raises(MatcherError, match="must be a string"):
        Matcher("a", EQ, None)  # type: ignore[arg-type]


def test_matchers_are_values() -> None:
    a, b = Matcher("x", RE, "a|b"), parse_matcher('x=~"a|b"')
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Matcher("x", NRE, "a|b")
    with pytest.raises(AttributeError):
        a.value = "c"  # type: ignore[misc]


# --- canonical string form --------------------------------------------------------------------------------

STRINGS = [
    # AM matcher_test TestMatcherString
    (m("foo", EQ, "bar"), 'foo="bar"'),
    (m("foo", NE, "bar"), 'foo!="bar"'),
    (m("foo", RE, "bar"), 'foo=~"bar"'),
    (m("foo", NRE, "bar"), 'foo!~"bar"'),
    (m("foo", EQ, "back\\slash"), 'foo="back\\\\slash"'),
    (m("foo", EQ, 'double"quote'), 'foo="double\\"quote"'),
    (m("foo", EQ, "new\nline"), 'foo="new\\nline"'),
    (m("foo", EQ, "tab\tstop"), 'foo="tab\tstop"'),
    (m("foo", EQ, "🙂"), 'foo="🙂"'),
    (m("foo!", NE, "bar"), '"foo!"!="bar"'),
    (m("foo bar", EQ, "baz"), '"foo bar"="baz"'),
    # Stormwatch: names outside [a-zA-Z_:][a-zA-Z0-9_:]* are always quoted (AM leaves foo🙂 bare)
    (m("foo🙂", EQ, "bar"), '"foo🙂"="bar"'),
    (m("foo", EQ, ""), 'foo=""'),
]


@pytest.mark.parametrize(("matcher", "text"), STRINGS, ids=[c[1] for c in STRINGS])
def test_str(matcher: Matcher, text: str) -> None:
    assert str(matcher) == text
    assert parse_matcher(text) == matcher


def test_round_trip_of_a_list() -> None:
    ms = parse_matchers('{a="b", c=~"d|e", "f.g"!="h,i", j!~"\\\\d+"}')
    assert parse_matchers("{" + ", ".join(map(str, ms)) + "}") == ms


# --- equality index key -----------------------------------------------------------------------------------

INDEX = [
    ('{alertname="DiskFull", service="db"}', ("alertname", "DiskFull")),
    ('{service="db", alertname="DiskFull"}', ("alertname", "DiskFull")),
    ('{service=~"db", team="ops", env="prod"}', ("team", "ops")),
    ('{service="", team="ops"}', ("team", "ops")),  # a non-empty value makes the better key
    ('{service=""}', ("service", "")),
    ('{alertname=~"Disk.*", team!="ops"}', None),
    ("{}", None),
]


@pytest.mark.parametrize(("text", "expected"), INDEX, ids=[c[0] for c in INDEX])
def test_equality_index_key(text: str, expected: tuple[str, str] | None) -> None:
    ms = parse_matchers(text)
    assert equality_index_key(ms) == expected
    if expected is not None:  # the key is necessary: every matching label set carries it
        name, value = expected
        assert Matcher(name, EQ, value) in ms


# --- properties -------------------------------------------------------------------------------------------

label_names = st.sampled_from(["a", "b", "c", "alertname", "severity"])
label_values = st.text(alphabet="xyz", max_size=3)


def reference_matches(name: str, kind: MatchType, value: str, labels: dict[str, str]) -> bool:
    present = name in labels
    actual = labels[name] if present else ""
    if kind is EQ:
        return actual == value
    return actual != value


@settings(max_examples=200, deadline=None)
@given(
    labels=st.dictionaries(label_names, label_values, max_size=4),
    specs=st.lists(st.tuples(label_names, st.sampled_from([EQ, NE]), label_values), max_size=4),
    data=st.data(),
)
def test_eq_ne_agree_with_reference(
    labels: dict[str, str], specs: list[tuple[str, MatchType, str]], data: st.DataObject
) -> None:
    # also draw matchers straight from the labels, so that matches are common, not just non-matches
    if labels:
        name = data.draw(st.sampled_from(sorted(labels)))
        specs = [*specs, (name, data.draw(st.sampled_from([EQ, NE])), labels[name])]
    ms = [Matcher(n, k, v) for n, k, v in specs]
    for matcher, (n, k, v) in zip(ms, specs, strict=True):
        assert matcher.matches(labels) is reference_matches(n, k, v, labels)
    assert matches_all(ms, labels) is all(reference_matches(n, k, v, labels) for n, k, v in specs)
    # the string form means the same thing
    assert parse_matchers(", ".join(map(str, ms))) == ms


@settings(max_examples=300, deadline=None)
@given(
    name=st.one_of(st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,8}", fullmatch=True), st.text(min_size=1, max_size=8)),
    kind=st.sampled_from([EQ, NE]),
    value=st.text(max_size=20),
)
def test_str_round_trips_any_value(name: str, kind: MatchType, value: str) -> None:
    matcher = Matcher(name, kind, value)
    assert parse_matcher(str(matcher)) == matcher
    assert parse_matchers("{" + str(matcher) + "}") == [matcher]


@settings(max_examples=100, deadline=None)
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12))
def test_escaped_literal_regex_matches_exactly_itself(value: str) -> None:
    import re

    matcher = Matcher("x", RE, re.escape(value))
    assert matcher.matches({"x": value})
    assert not matcher.matches({"x": value + "!"})
    assert parse_matcher(str(matcher)) == matcher
