"""Build the redaction test corpus from a gitleaks checkout.

    python scripts/build_redaction_corpus.py /path/to/gitleaks [--out tests/domain/redaction_corpus]

gitleaks (https://github.com/gitleaks/gitleaks, MIT licence) documents every rule
of its default configuration with true- and false-positive examples, written as Go
in cmd/generate/config/rules/*.go.  Most examples are built at generation time:
``utils.GenerateSampleSecrets("gitlab", "glft-" + secrets.NewSecret("[a-z0-9]{20}"))``.
This script reads those Go expressions with a small evaluator (string literals,
``+``, ``[]string{...}``, ``append``, and the helpers of cmd/generate/config/utils),
generates the random parts from their regexes with a seeded generator, and writes:

- ``gitleaks_cases.jsonl``: one line per true-positive example: rule id, the
  secret, its random parts (a leak is any 8 characters of one of them still in the
  output), and the four contexts it is placed in (native line, prose, neutral JSON
  field, ``NAME=value``);
- ``gitleaks_false_positives.jsonl``: gitleaks' false-positive examples, as given.

An example whose expression uses something the evaluator does not know is skipped
and counted.  The output depends only on the checkout and the seed, so a rebuild
from the same gitleaks commit is byte-identical.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import re._constants as sre_constants  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SEED = 9

# GenerateSampleSecrets (cmd/generate/config/utils/generate.go) makes one line in
# each of ~30 syntaxes; the corpus takes one per secret, turn by turn.
SAMPLE_FORMATS = (
    '{i}Token="{s}"',
    '{i}Token = "{s}"',
    "{i}Token={s}",
    "{i}Token = {s}",
    '{\n    "{i}_token": "{s}"\n}',
    '{"config.ini": "{I}_TOKEN={s}\\nBACKUP_ENABLED=true"}',
    "<{i}Token>\n    {s}\n</{i}Token>",
    "{i}_token: {s}",
    "{i}_token: '{s}'",
    '{i}_token: "{s}"',
    'string {i}Token = "{s}";',
    'var {i}Token string = "{s}"',
    '{i}Token := "{s}"',
    "{i}Token := `{s}`",
    'String {i}Token = "{s}";',
    'var {i}Token = "{s}"',
    '${i}Token .= "{s}"',
    "{i}Token = '{s}'",
    '{i}Token = "{s}"',
    'System.setProperty("{I}_TOKEN", "{s}")',
    '  "{i}Token" => "{s}"',
    '{i}_TOKEN = "{s}"',
    '{i}_TOKEN := "{s}"',
    '{i}_TOKEN ::= "{s}"',
    '{i}_TOKEN :::= "{s}"',
    '{i}_TOKEN ?= "{s}"',
)

# Prose: a sentence as an operator writes it, naming the service ({v}, the first
# word of the rule id) and what the value is, the secret in the middle.
PROSE = (
    "rollout of checkout-api stalled; the {v} token {s} was rejected, rotating it now",
    "paged at 03:12 UTC, on-call pasted the {v} api key {s} into the incident channel",
    "canary 7 failed its smoke test: {v} credentials {s} expired at 02:00",
    "retrying the deploy hook with {v} secret {s} after the 502 from the gateway",
)


class Unsupported(Exception):
    """An expression the evaluator does not know: the example is skipped."""


# ---------------------------------------------------------------------------
# Strings generated from a regex (like lucasjones/reggen, which gitleaks uses)
# ---------------------------------------------------------------------------

_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: "0123456789",
    sre_constants.CATEGORY_WORD: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_",
    sre_constants.CATEGORY_SPACE: " ",
}
_PRINTABLE = [chr(c) for c in range(0x21, 0x7F)]


def _class_chars(items: list[tuple[object, object]]) -> list[str]:
    chars: list[str] = []
    negate = False
    for op, av in items:
        if op is sre_constants.NEGATE:
            negate = True
        elif op is sre_constants.LITERAL:
            chars.append(chr(av))  # type: ignore[arg-type]
        elif op is sre_constants.RANGE:
            low: int
            high: int
            low, high = av  # type: ignore[misc]
            chars.extend(chr(c) for c in range(low, high + 1))
        elif op is sre_constants.CATEGORY:
            chars.extend(_CATEGORIES.get(av, ""))  # type: ignore[call-overload]
        else:
            raise Unsupported(f"class item {op}")
    if negate:
        chars = [c for c in _PRINTABLE if c not in chars]
    return chars


def _generate(parsed: object, rng: random.Random) -> str:
    out: list[str] = []
    for op, av in parsed:  # type: ignore[attr-defined]
        if op is sre_constants.LITERAL:
            out.append(chr(av))
        elif op is sre_constants.IN:
            out.append(rng.choice(_class_chars(av)))
        elif op is sre_constants.ANY:
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789"))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT):
            low, high, sub = av
            high = low + 8 if high is sre_constants.MAXREPEAT else high
            out.extend(_generate(sub, rng) for _ in range(rng.randint(low, high)))
        elif op is sre_constants.SUBPATTERN:
            out.append(_generate(av[-1], rng))
        elif op is sre_constants.BRANCH:
            out.append(_generate(rng.choice(av[1]), rng))
        elif op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            continue
        elif op is sre_constants.CATEGORY:
            out.append(rng.choice(_CATEGORIES.get(av, "x")))
        else:
            raise Unsupported(f"regex op {op}")
    return "".join(out)


def _go_regex_to_python(pattern: str) -> str:
    pattern = pattern.replace("[[:alnum:]]", "[A-Za-z0-9]").replace("[:alnum:]", "A-Za-z0-9")
    pattern = pattern.replace("\\z", "\\Z")
    # Go allows (?i) anywhere and (?-i:...); Python only at the start / as a group.
    if pattern.startswith("(?i)"):
        pattern = "(?i:" + pattern[4:] + ")"
    return pattern


# ---------------------------------------------------------------------------
# A small evaluator for the Go expressions of the examples
# ---------------------------------------------------------------------------


@dataclass
class Sample:
    """An example line with the secret in it and the random parts of that secret."""

    text: str
    secret: str = ""
    parts: list[str] = field(default_factory=list)


@dataclass
class Value:
    """A string being built: its text and the random parts generated into it."""

    text: str
    parts: list[str] = field(default_factory=list)

    def __add__(self, other: Value) -> Value:
        return Value(self.text + other.text, self.parts + other.parts)


_TOKEN = re.compile(
    r'\s+|//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|`[^`]*`|\.\.\.|[A-Za-z_][A-Za-z0-9_.]*|\d+|.',
    re.DOTALL,
)


def _tokens(source: str) -> list[str]:
    return [t for t in _TOKEN.findall(source) if not t.isspace() and not t.startswith(("//", "/*"))]


def _go_string(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    return json.loads(token.replace("\\x60", "`").replace("\\'", "'"))


class Evaluator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.variables: dict[str, list[Sample]] = {}
        self.format_turn = 0
        self.skipped = 0

    # -- helpers of cmd/generate/config/utils and secrets --------------------

    def new_secret(self, pattern: Value) -> Value:
        try:
            parsed = sre_parse.parse(_go_regex_to_python(pattern.text))
        except re.error as error:
            raise Unsupported(str(error)) from error
        text = _generate(parsed, self.rng)
        return Value(text, [text])

    def sample_secrets(self, identifier: Value, secret: Value) -> list[Sample]:
        template = SAMPLE_FORMATS[self.format_turn % len(SAMPLE_FORMATS)]
        self.format_turn += 1
        text = (
            template.replace("{i}", identifier.text)
            .replace("{I}", identifier.text.upper())
            .replace("{s}", secret.text)
        )
        return [Sample(text, secret.text, secret.parts)]

    def call(self, name: str, args: list[object]) -> object:
        values = [a for a in args if isinstance(a, Value)]
        patterns: dict[str, Callable[[str], str]] = {
            "utils.Numeric": lambda n: f"[0-9]{{{n}}}",
            "utils.Hex": lambda n: f"[a-f0-9]{{{n}}}",
            "utils.AlphaNumeric": lambda n: f"[a-z0-9]{{{n}}}",
            "utils.AlphaNumericExtendedShort": lambda n: f"[a-z0-9_-]{{{n}}}",
            "utils.AlphaNumericExtended": lambda n: f"[a-z0-9=_\\-]{{{n}}}",
            "utils.AlphaNumericExtendedLong": lambda n: f"[a-z0-9\\/=_\\+\\-]{{{n}}}",
        }
        if name in patterns and len(values) == 1:
            return Value(patterns[name](values[0].text))
        if name == "utils.Hex8_4_4_4_12":
            return Value(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        if name in ("secrets.NewSecret", "newPlausibleSecret") and len(values) == 1:
            return self.new_secret(values[0])
        if name == "utils.GenerateSampleSecrets" and len(values) == 2:
            return self.sample_secrets(values[0], values[1])
        if name == "utils.GenerateSampleSecret" and len(values) == 2:
            return Value(f'{values[0].text}_api_token = "{values[1].text}"', values[1].parts)
        if name == "fmt.Sprintf" and values:
            template, rest = values[0], values[1:]
            pieces = re.split(r"%[sdvq]", template.text)
            if len(pieces) != len(rest) + 1:
                raise Unsupported("Sprintf arity")
            out = Value(pieces[0])
            for value, piece in zip(rest, pieces[1:], strict=True):
                out = out + value + Value(piece)
            return out
        if name == "append" and args:
            head, *tail = args
            result = list(head) if isinstance(head, list) else []
            for item in tail:
                result.extend(item if isinstance(item, list) else [item])
            return result
        raise Unsupported(name)

    # -- expressions -----------------------------------------------------------

    def parse_expression(self, tokens: list[str], pos: int) -> tuple[object, int]:
        value, pos = self.parse_primary(tokens, pos)
        while pos < len(tokens) and tokens[pos] == "+":
            right, pos = self.parse_primary(tokens, pos + 1)
            if not (isinstance(value, Value) and isinstance(right, Value)):
                raise Unsupported("+ on non-strings")
            value = value + right
        if pos < len(tokens) and tokens[pos] == "...":
            pos += 1
        return value, pos

    def parse_list(self, tokens: list[str], pos: int, close: str) -> tuple[list[object], int]:
        """Comma-separated expressions up to ``close``; an element that cannot be
        evaluated is skipped (and counted), the others are kept."""
        items: list[object] = []
        while tokens[pos] != close:
            start = pos
            try:
                item, pos = self.parse_expression(tokens, pos)
                items.append(item)
            except Unsupported:
                self.skipped += 1
                pos = self.skip_expression(tokens, start)
            if tokens[pos] == ",":
                pos += 1
        return items, pos + 1

    @staticmethod
    def skip_expression(tokens: list[str], pos: int) -> int:
        depth = 0
        while True:
            token = tokens[pos]
            if token in "([{":
                depth += 1
            elif token in ")]}":
                if depth == 0:
                    return pos
                depth -= 1
            elif token == "," and depth == 0:
                return pos
            pos += 1

    def parse_primary(self, tokens: list[str], pos: int) -> tuple[object, int]:
        token = tokens[pos]
        if token[0] in "\"`":
            return Value(_go_string(token)), pos + 1
        if token.isdigit():
            return Value(token), pos + 1
        if token == "[" and tokens[pos + 1 : pos + 4] == ["]", "string", "{"]:
            items, pos = self.parse_list(tokens, pos + 4, "}")
            return [self.as_sample(item) for item in items], pos
        if token[0].isalpha() or token[0] == "_":
            if pos + 1 < len(tokens) and tokens[pos + 1] == "(":
                args, end = self.parse_list(tokens, pos + 2, ")")
                return self.call(token, args), end
            if token in self.variables:
                return list(self.variables[token]), pos + 1
        raise Unsupported(token)

    @staticmethod
    def as_sample(item: object) -> Sample | list[Sample]:
        if isinstance(item, Value):
            return Sample(item.text, "", item.parts)
        if isinstance(item, list):
            return item
        raise Unsupported("list item")

    def samples(self, value: object) -> list[Sample]:
        if isinstance(value, Value):
            return [Sample(value.text, "", value.parts)]
        out: list[Sample] = []
        for item in value if isinstance(value, list) else []:
            if isinstance(item, list):
                out.extend(self.samples(item))
            elif isinstance(item, Sample):
                out.append(item)
            elif isinstance(item, Value):
                out.append(Sample(item.text, "", item.parts))
        return out

    def run_function(self, body: str) -> dict[str, list[Sample]]:
        """Evaluate the ``tps`` / ``fps`` assignments of one rule function."""
        self.variables = {}
        tokens = _tokens(body)
        for pos, token in enumerate(tokens[:-2]):
            if tokens[pos + 1] not in (":=", "=") and tokens[pos + 1 : pos + 3] != [":", "="]:
                continue
            if not re.fullmatch(r"(?:tps|fps|tp|fp)\w*", token):
                continue
            start = pos + (2 if tokens[pos + 1] in (":=", "=") else 3)
            try:
                value, _ = self.parse_expression(tokens, start)
            except (Unsupported, IndexError):
                self.skipped += 1
                continue
            self.variables[token] = self.samples(value)
        return self.variables


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


def _rule_regexes(toml_text: str) -> dict[str, tuple[re.Pattern[str] | None, int]]:
    config = tomllib.loads(toml_text)
    out: dict[str, tuple[re.Pattern[str] | None, int]] = {}
    for rule in config["rules"]:
        try:
            pattern: re.Pattern[str] | None = re.compile(_go_regex_to_python(rule.get("regex", "")))
        except re.error:
            pattern = None
        out[rule["id"]] = (pattern, int(rule.get("secretGroup", 0)))
    return out


def _secret_of(sample: Sample, regex: re.Pattern[str] | None, group: int) -> str:
    """The secret of an example: what gitleaks' own rule captures (its
    secretGroup, else its first group, else the whole match) when that holds
    every generated part; else what the generator put in."""
    captured = ""
    match = regex.search(sample.text) if regex is not None else None
    if match is not None:
        if group and match.group(group):
            captured = match.group(group)
        else:
            groups = [g for g in match.groups() if g]
            captured = groups[0] if groups else match.group(0)
    if captured and all(part in captured for part in sample.parts):
        return captured
    if sample.secret:
        return sample.secret
    if len(sample.parts) == 1:
        return sample.parts[0]
    return captured


# Rules whose secret is "user:password": the user name is not the secret.
_USER_PASSWORD_RULES = ("curl-auth-user", "sidekiq-secret", "sidekiq-sensitive-url")


def _env_name(rule_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", rule_id).upper().strip("_")


def _git(checkout: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=checkout, check=True, capture_output=True, text=True
    ).stdout


def _read(checkout: Path, path: str) -> str:
    git_dir = checkout / ".git"
    if (checkout / path).exists():
        return (checkout / path).read_text()
    if not git_dir.exists():
        git_dir = checkout  # a bare repository
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"HEAD:{path}"],
        check=True, capture_output=True, text=True,
    ).stdout


def _list_rules(checkout: Path) -> list[str]:
    folder = checkout / "cmd/generate/config/rules"
    if folder.is_dir():
        return sorted(f"cmd/generate/config/rules/{p.name}" for p in folder.glob("*.go"))
    git_dir = checkout / ".git" if (checkout / ".git").exists() else checkout
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "--name-only", "HEAD", "cmd/generate/config/rules/"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    return sorted(p for p in listing if p.endswith(".go"))


def _commit(checkout: Path) -> str:
    git_dir = checkout / ".git" if (checkout / ".git").exists() else checkout
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "rev-parse", "HEAD"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def build(checkout: Path, out: Path) -> None:
    rng = random.Random(SEED)
    regexes = _rule_regexes(_read(checkout, "config/gitleaks.toml"))
    evaluator = Evaluator(rng)
    cases: list[dict[str, object]] = []
    false_positives: list[dict[str, object]] = []
    unknown_secret = 0
    for path in _list_rules(checkout):
        source = _read(checkout, path)
        for body in re.split(r"\nfunc ", source)[1:]:
            ids = re.findall(r'RuleID:\s*"([^"]+)"', body)
            if len(ids) != 1 or ids[0] not in regexes:
                continue
            rule_id = ids[0]
            regex, group = regexes[rule_id]
            variables = evaluator.run_function(body)
            seen: set[str] = set()
            for name, samples in variables.items():
                positive = name.startswith("tp")
                for sample in samples:
                    if sample.text in seen:
                        continue
                    seen.add(sample.text)
                    if not positive:
                        false_positives.append({"rule": rule_id, "text": sample.text})
                        continue
                    secret = _secret_of(sample, regex, group)
                    if len(secret) < 8 or secret not in sample.text:
                        unknown_secret += 1
                        continue
                    parts = [p for p in sample.parts if len(p) >= 8 and p in secret] or [secret]
                    if not sample.parts and "://" in secret:
                        parts = [secret.rstrip("/").rsplit("/", 1)[-1]]
                    if rule_id in _USER_PASSWORD_RULES and ":" in secret:
                        parts = [secret.split(":", 1)[1].strip("\"'")]
                    turn = len(cases)
                    cases.append(
                        {
                            "rule": rule_id,
                            "secret": secret,
                            "parts": parts,
                            "native": sample.text,
                            "prose": PROSE[turn % len(PROSE)].format(s=secret, v=rule_id.split("-")[0]),
                            "json": json.dumps({"detail": secret, "step": "deploy"}),
                            "env": f"{_env_name(rule_id)}={secret}",
                        }
                    )
    out.mkdir(parents=True, exist_ok=True)
    with (out / "gitleaks_cases.jsonl").open("w") as file:
        for case in cases:
            file.write(json.dumps(case, sort_keys=True) + "\n")
    with (out / "gitleaks_false_positives.jsonl").open("w") as file:
        for fp in false_positives:
            file.write(json.dumps(fp, sort_keys=True) + "\n")
    (out / "SOURCE").write_text(
        f"gitleaks commit {_commit(checkout)} (MIT licence), seed {SEED}\n"
        f"true positives: {len(cases)}, false positives: {len(false_positives)}, "
        f"examples skipped (unknown expression): {evaluator.skipped}, "
        f"(secret not found): {unknown_secret}\n"
    )
    print((out / "SOURCE").read_text(), end="")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gitleaks", type=Path, help="a gitleaks checkout (work tree or bare git dir)")
    parser.add_argument("--out", type=Path, default=Path("tests/domain/redaction_corpus"))
    args = parser.parse_args()
    build(args.gitleaks, args.out)


if __name__ == "__main__":
    main()
