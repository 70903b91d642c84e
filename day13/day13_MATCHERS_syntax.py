"""Alertmanager matcher syntax, read the way every Alertmanager reads it, and regexes given Go's RE2 meaning.

Alertmanager has two matcher parsers: the classic one (pkg/labels/parse.go) and the UTF-8 one
(matcher/parse). Which one a configuration meets depends on Alertmanager's version and feature flags
(classic mode, UTF-8 strict mode, or the default fallback that prefers the classic reading when they
disagree). day13 follows neither alone: an item is accepted only when both parsers accept it and read
the same matchers from it, which is the set Alertmanager's matcher/compliance test marks as compliant.
Anything else (`foo=`, `{foo=bar}}`, `foo="bar\\t"`, a quoted or non-classic label name) is refused with
both readings named, so a routing file can never mean one thing here and another in some Alertmanager.
Both parsers are ported below line for line from the Go sources (Apache-2.0) so the comparison is exact.

Regexes are compiled once, at load time, with RE2's meaning: \\d \\w \\s \\b are ASCII classes, `$` is
the end of the text, and syntax Python reads differently from RE2 ([[:alpha:]], x{,3}, (?x), \\Z, ...)
is refused instead of being given Python's meaning.
"""
from __future__ import annotations

import re
import warnings

DAY13_GO_SPACE = "\t\n\f\r "  # RE2's \s
DAY13_GO_UNICODE_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
                         "\u2028\u2029\u202f\u205f\u3000"  # Go's unicode.IsSpace, used by strings.TrimSpace
DAY13_CLASSIC_MATCHER = re.compile(r"[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*(.*?)"
                                   r"[\t\n\f\r ]*\Z", re.S)
DAY13_RESERVED = set("{}!=~,\\\"'`")
DAY13_GO_ESCAPES = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t", "v": b"\v", "\\": b"\\",
                    '"': b'"'}
DAY13_RE2_CLASSES = {"d": "[0-9]", "D": "[^0-9]", "w": "[0-9A-Za-z_]", "W": "[^0-9A-Za-z_]",
                     "s": "[\\t\\n\\f\\r ]", "S": "[^\\t\\n\\f\\r ]", "b": "(?a:\\b)", "B": "(?a:\\B)"}
DAY13_RE2_IN_CLASS = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
DAY13_NOT_RE2 = (("(?=", "a lookahead"), ("(?!", "a lookahead"), ("(?<=", "a lookbehind"), ("(?<!", "a lookbehind"),
                 ("(?>", "an atomic group"), ("(?(", "a conditional group"), ("(?P=", "a back-reference"),
                 ("(?#", "a comment group"))
DAY13_PYTHON_ONLY_ESCAPES = {"Z": "\\Z (RE2 writes \\z)", "u": "a \\u escape", "U": "a \\U escape", "N": "a \\N{...} escape",
                             "g": "a back-reference", **{d: "a back-reference" for d in "123456789"}}


class day13_SyntaxError(ValueError):
    """The text is not a matcher list both Alertmanager parsers read the same way, or not an RE2 regex."""


def _classic_one(token: str) -> tuple[str, str, str]:
    """pkg/labels ParseMatcher."""
    found = DAY13_CLASSIC_MATCHER.match(token)
    if not found:
        raise day13_SyntaxError(f"bad matcher format: {token}")
    name, op, raw = found.groups()
    trailing = raw.startswith('"')
    raw = raw[1:] if trailing else raw
    out, escaped = [], False
    for n, char in enumerate(raw):
        if escaped:
            escaped = False
            out.append("\n" if char == "n" else char if char in '"\\' else "\\" + char)  # a spurious escape stays
        elif char == "\\":
            escaped = n < len(raw) - 1
            out += [] if escaped else ["\\"]
        elif char == '"':
            if not trailing or n < len(raw) - 1:
                raise day13_SyntaxError(f"matcher value contains unescaped double quote: {found.group(3)}")
            trailing = False
        else:
            out.append(char)
    if trailing:
        raise day13_SyntaxError(f"matcher value contains unescaped double quote: {found.group(3)}")
    return name, op, "".join(out)


def day13_classic_matchers(text: str) -> list[tuple[str, str, str]]:
    """pkg/labels ParseMatchers: an optional { and }, commas outside quotes separate matchers."""
    text = text[1:] if text.startswith("{") else text
    text = text[:-1] if text.endswith("}") else text
    tokens, token, inside, escaped = [], [], False, False
    for char in text:
        if char == ",":
            if not inside:
                tokens.append("".join(token))
                token = []
                continue
        elif char == '"':
            inside, escaped = (not inside, False) if not escaped else (inside, False)
        else:
            escaped = (not escaped) if char == "\\" else False
        token.append(char)
    last = "".join(token).strip(DAY13_GO_UNICODE_SPACE)
    tokens += [last] if last else []
    return [_classic_one(token) for token in tokens]


def _go_unquote(quoted: str) -> str:
    """strconv.Unquote of a double-quoted Go string, then the UTF-8 check matcher/parse makes."""
    body, out, n = quoted[1:-1], bytearray(), 0
    if "\n" in body:
        raise day13_SyntaxError(f"{quoted}: invalid input")
    while n < len(body):
        char = body[n]
        if char != "\\":
            out += char.encode()
            n += 1
            continue
        code, n = body[n + 1:n + 2], n + 2
        width = {"x": 2, "u": 4, "U": 8}.get(code, 2 if code in "01234567" and code else 0)
        if code in DAY13_GO_ESCAPES:
            out += DAY13_GO_ESCAPES[code]
            continue
        digits = body[n:n + width]
        base = 8 if code in "01234567" else 16
        allowed = "01234567" if base == 8 else "0123456789abcdefABCDEF"
        whole = width and len(digits) == width and all(d in allowed for d in digits)
        value = int(code + digits if base == 8 else digits, base) if whole else None
        if value is None or (base == 8 and value > 255) or (code in "uU" and (value > 0x10FFFF or 0xD800 <= value < 0xE000)):
            raise day13_SyntaxError(f"{quoted}: invalid input")
        out += chr(value).encode() if code in "uU" else bytes([value])
        n += width
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise day13_SyntaxError(f"{quoted}: invalid input") from None


def _utf8_tokens(text: str) -> list[tuple[str, str]]:
    """matcher/parse's lexer: braces, commas, operators, quoted and unquoted text; spaces are skipped."""
    tokens, n = [], 0
    while n < len(text):
        char = text[n]
        if char in "{},":
            tokens.append((char, char))
            n += 1
        elif char in "=!":
            op = text[n:n + 2] if text[n:n + 2] in ("=~", "!=", "!~") else "=" if char == "=" else None
            if op is None:
                raise day13_SyntaxError(f"{n}:{n + 1}: expected one of '=~' after !")
            tokens.append(("op", op))
            n += len(op)
        elif char == '"':
            end, escaped = n + 1, False
            while end < len(text) and (escaped or text[end] != '"'):
                escaped = not escaped and text[end] == "\\"
                end += 1
            if end >= len(text):
                raise day13_SyntaxError(f"{text[n:]}: missing end \"")
            tokens.append(("text", _go_unquote(text[n:end + 1])))
            n = end + 1
        elif char in DAY13_GO_UNICODE_SPACE:
            n += 1
        elif char in DAY13_RESERVED:
            raise day13_SyntaxError(f"{n}:{n + 1}: {char}: invalid input")
        else:
            end = n
            while end < len(text) and text[end] not in DAY13_RESERVED and text[end] not in DAY13_GO_UNICODE_SPACE:
                end += 1
            tokens.append(("text", text[n:end]))
            n = end
    return tokens


def day13_utf8_matchers(text: str) -> list[tuple[str, str, str]]:
    """matcher/parse Matchers: [{] name op value {, name op value} [,] [}]."""
    tokens = _utf8_tokens(text)
    braced = bool(tokens) and tokens[0][0] == "{"
    rest, found = tokens[1:] if braced else tokens, []
    while rest and rest[0][0] == "text":
        if len(rest) < 3 or rest[1][0] != "op" or rest[2][0] != "text":
            raise day13_SyntaxError(f"{text}: expected a matcher like name=\"value\"")
        found.append((rest[0][1], rest[1][1], rest[2][1]))
        rest = rest[3:]
        if rest and rest[0][0] == ",":
            rest = rest[1:]
        elif rest and rest[0][0] != "}":
            raise day13_SyntaxError(f"{text}: expected a comma or close brace")
    if braced and (not rest or rest[0][0] != "}"):
        raise day13_SyntaxError(f"{text}: expected close brace")
    if rest[1 if braced else 0:]:
        raise day13_SyntaxError(f"{text}: {'expected end of input' if braced else 'expected opening brace'}")
    return found


def day13_read_matchers(text: str) -> list[tuple[str, str, str]]:
    """The matchers in one `matchers:` item, if Alertmanager's two parsers agree on them; else why not."""
    try:
        classic = day13_classic_matchers(text)
    except day13_SyntaxError as exc:
        raise day13_SyntaxError(f"is not a matcher like severity=\"Critical\" (Alertmanager's classic parser: {exc})") from None
    try:
        utf8 = day13_utf8_matchers(text)
    except day13_SyntaxError as exc:
        raise day13_SyntaxError(f"Alertmanager's UTF-8 matcher parser refuses it ({exc}); day13 accepts only what both"
                                " of its parsers read the same way: write each matcher as name=\"value\"") from None
    if utf8 != classic:
        raise day13_SyntaxError(f"Alertmanager's two matcher parsers read it differently (classic {classic}, UTF-8 {utf8});"
                                " write each matcher as name=\"value\"")
    return classic


def _flags(value: str, n: int) -> str:
    """The letters of an inline flag group at n ('(?i)', '(?i:'), or '' when n opens another kind of group."""
    found = re.match(r"\(\?([a-zA-Z-]*)[:)]", value[n:])
    return found.group(1) if found else ""


def _repeat_above_1000(text: str) -> bool:
    found = re.match(r"\{([0-9]+)(?:,([0-9]*))?\}", text)
    return bool(found) and any(int(count) > 1000 for count in found.groups() if count)


def day13_compile_re2(value: str) -> re.Pattern:
    """The Python pattern that means what RE2 (Go's regexp, which Alertmanager uses) means by value."""
    out, n, in_class, multiline = [], 0, False, "m" in "".join(_flags(value, k) for k in range(len(value)))
    while n < len(value):
        char, following = value[n], value[n + 1:n + 2]
        found = None
        if char == "\\":
            found = DAY13_PYTHON_ONLY_ESCAPES.get(following)
            if in_class and following in "DWS" and following:
                found = f"\\{following} inside [...] (write the class out)"
            piece = (DAY13_RE2_IN_CLASS.get(following) if in_class else DAY13_RE2_CLASSES.get(following)) or char + following
            n += 2
        elif in_class:
            in_class, piece, n = char != "]", char, n + 1
            found = "a POSIX class [[:name:]]" if char == "[" and following == ":" else None
        elif char == "[":
            piece = re.match(r"\[\^?\]?", value[n:]).group(0)  # a ']' first in a class is literal, in both
            in_class, n = True, n + len(piece)
        elif char == "(":
            found = next((what for prefix, what in DAY13_NOT_RE2 if value.startswith(prefix, n)), None)
            flags = _flags(value, n)
            bad = set(flags) - set("imsU-")
            found = found or (f"the inline flag(s) {''.join(sorted(bad))} (RE2 has i, m, s, U)" if bad else None)
            piece, n = char, n + 1
        elif char in "*+?}" and following == "+" and not (char == "?" and value[n - 1:n] == "("):
            found, piece, n = "a possessive quantifier", char, n + 1
        elif char == "{" and re.match(r"\{,\d", value[n:]):
            found, piece, n = "a {,n} repeat (RE2 reads it as text, Python as 0 to n)", char, n + 1
        elif char == "{" and _repeat_above_1000(value[n:]):
            found, piece, n = "a repeat count above 1000 (RE2's limit)", char, n + 1
        elif char == "$" and not multiline:
            piece, n = "\\Z", n + 1  # RE2's $ is the end of the text; Python's also matches before a final \n
        else:
            piece, n = char, n + 1
        if found:
            raise day13_SyntaxError(f"bad regex {value!r}: {found} (not RE2 syntax, which Alertmanager uses)")
        out.append(piece)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "possible nested set": RE2 reads [[ literally too
            return re.compile("".join(out))
    except re.error as exc:
        raise day13_SyntaxError(f"bad regex {value!r}: {exc}") from None
