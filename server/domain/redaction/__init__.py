"""Redaction of secrets and personal data (SPEC section 6).

Everything the service stores or returns about an event passes through here first.
A found secret becomes ``[REDACTED:<kind>]`` and the text around it is kept, so an
operator still sees *what* was there and *where*, never the value.

Three entry points cover the three shapes of data:

- :func:`redact_text` for free text: an ordered table of rules (:data:`_RULES`),
  read top to bottom, each replacing only the secret part of what it matches
  (``password=[REDACTED:password]`` keeps ``password=``).
- :func:`redact_mapping` for ``map<string,string>`` (labels, annotations): a value
  under a sensitive key name (:func:`is_sensitive_key`) is replaced whole; any
  other value goes through :func:`redact_text`.
- :func:`redact_json` for JSON values (a payload Struct after ``MessageToDict``):
  the same, recursively; keys are kept; ``{"name": <key>, "value": <secret>}``
  objects are read as one entry.

The rules live in one module per family:

- ``_keys``: which key names hold secrets; one answer for text, maps and JSON.
- ``_tokens``: every token family of gitleaks' default rules that has a shape
  (prefix, marker, length), one row each with its reason; and random-looking
  strings with no prefix at all (:func:`_tokens.looks_random`).
- ``_structure``: secrets found by where they stand: key/value in every common
  syntax (``=``, ``:``, ``=>``, ``:=``, ``?=``, ``.=``, ``,`` after a quoted key,
  YAML block scalars, XML elements and attributes, ``%3D``), name/value objects,
  CLI flags, ``curl -u``, HTTP header lines, URL userinfo and query parameters,
  PEM blocks, AWS secret keys.
- ``_personal``: Sentry's scrubbing classes: email, card numbers, US SSNs,
  IMEIs, user names in home paths.
- ``_encoded``: base64 runs that decode to text holding a credential, a private
  key or a docker auth.

Properties the tests hold the rules to:

- Idempotent: ``redact_text(redact_text(x)) == redact_text(x)``.  Every rule refuses
  to start a secret at ``[REDACTED:`` and no rule can match inside a marker.
- Never half-redacted: a rule replaces the value, never the operator or a quote
  (``secret_key => "sk_..."`` is ``secret_key => "[REDACTED:...]"``).
- Ordinary operations text is left alone: hostnames, pod names (also in
  ``user@host`` ssh targets), namespaces, UUIDs, git SHAs, image digests, hex and
  decimal trace ids, IP addresses, metric names, PromQL, durations, timestamps,
  URLs without credentials, numbers that are not card numbers.
- Linear time: every pattern either starts with a literal or with a one-character
  look-behind that stops a match from starting inside a run of the characters it
  would consume; open-ended spans are bounded; a run followed by something that
  cannot start with its characters is possessive or atomic.  Rules are skipped
  outright when the text lacks every substring a match must contain (``hints``).
  tests/domain/test_redaction_linear.py holds every rule to this with a mebibyte
  of its worst input.

Decisions worth knowing:

- ``Authorization`` keeps its scheme word (``Authorization: Basic
  [REDACTED:authorization]``); a token with a shape of its own is named by it.
- Twilio account SIDs (``AC...``) and Stripe publishable keys (``pk_``) are kept:
  identifiers and public keys, not credentials.
- Card numbers: 12-19 digits that pass the Luhn check *and* either carry a known
  issuer's prefix with one of its lengths (Visa 4 / 13,16,19; Mastercard 51-55,
  2221-2720 / 16; Amex 34,37 / 15; ...; a bare run longer than 16 digits needs a
  card word too) or follow a card word ("card", "visa", "payment", ...).  A bare
  number after an id word ("trace_id=", "span_id:") is never a card: decimal
  trace ids pass Luhn one time in ten.
- Email addresses are redacted when their domain ends in a real-looking TLD.  A
  ``user@host`` whose TLD is an internal one (``.internal``, ``.local``, ``.lan``,
  ``.svc``, ``.corp``, ...), the argument of ``ssh``/``scp``/``rsync``, an scp
  target (``user@host:path``), ``git@host`` and ``scheme://user@host`` are
  logins, not addresses, and stay.
- IP and MAC addresses stay in free text (operations data; Sentry scrubs neither
  by default); a value under a sensitive key such as ``ip_address`` goes.
- A random-looking string with no prefix (20+ mixed-case letters and digits, or a
  16+ single-case run mixing letters and digits throughout) is taken for a
  secret: hex (SHAs, trace ids, digests, UUIDs), ULIDs and words with a number
  are not.  Hex secrets without a key beside them cannot be told from trace ids
  and stay.
- A sensitive key whose value is empty or null (``token=null``) keeps it.
- The key name ``secret`` is sensitive as the spec says, so a Kubernetes label
  ``secret=<name of a Secret object>`` loses its value too.

Bump :data:`REDACTION_VERSION` whenever a rule changes (SPEC section 6).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Mapping, Sequence

from server.domain.redaction._common import REMEMBERED_MOST, REMEMBERED_UP_TO, Rule, marker
from server.domain.redaction._encoded import SECRET_DATA_RULE, encoded_or_random_rule
from server.domain.redaction._keys import is_sensitive_key, key_kind
from server.domain.redaction._personal import CARD_RULES, EMAIL_RULE, PERSONAL_RULES
from server.domain.redaction._structure import (
    AWS_RULES,
    HEADER_RULES,
    KEY_VALUE_RULE,
    NAME_VALUE_RULES,
    PRIVATE_KEY_RULE,
    PROSE_RULE,
    STRUCTURE_RULES_CLI,
    URL_RULES,
    YAML_BLOCK_RULE,
)
from server.domain.redaction._tokens import SHAPED_RULES, TOKEN_RULE, looks_random

__all__ = [
    "REDACTION_VERSION",
    "is_sensitive_key",
    "redact_json",
    "redact_mapping",
    "redact_text",
]

# v2: a [name, value] pair's name is redacted too; content is built from the
# annotations redacted as a map (server/domain/derivation.py).
# v3: every token family of gitleaks' default rules; key/value in every common
# syntax with a wider key list; name/value objects; CLI flags; header lines; URL
# userinfo tokens and signature/key/code query parameters; base64 that decodes to
# a secret; random-looking strings; SSNs, IMEIs, home-path user names; emails need
# a public TLD and card numbers an issuer prefix or a card word.
REDACTION_VERSION: str = "v3"

_URL_PASSWORD, _URL_TOKEN, _SLACK_WEBHOOK, _TEAMS_WEBHOOK, _URL_ENCODED, _URL_QUERY = URL_RULES


def _redact_decoded(text: str) -> str:
    return redact_text(text)


_RULES: tuple[Rule, ...] = (
    # PEM private keys first: their base64 body would otherwise feed the token
    # rules piecemeal.  Then the other rules whose matches span lines (name/value
    # objects, XML, YAML blocks): the rules after them keep every line as it is,
    # which lets a long text be read line by line (_redact_long).
    PRIVATE_KEY_RULE,
    SECRET_DATA_RULE,
    *NAME_VALUE_RULES,
    YAML_BLOCK_RULE,
    # URLs before tokens and key/value: the user and host of a URL stay.
    _URL_PASSWORD,
    _URL_TOKEN,
    _SLACK_WEBHOOK,
    _TEAMS_WEBHOOK,
    # AWS secret keys before the token table, which would hide the access key id
    # that a secret key without a name is found beside.
    *AWS_RULES,
    # Provider tokens with a shape of their own come before the key=value rules
    # so that "token=ghp_..." says which kind of token it was.
    TOKEN_RULE,
    *SHAPED_RULES,
    *HEADER_RULES,
    _URL_ENCODED,
    _URL_QUERY,
    KEY_VALUE_RULE,
    *STRUCTURE_RULES_CLI,
    PROSE_RULE,
    EMAIL_RULE,
    # Base64 that decodes to a secret, else random-looking strings: one scan.
    encoded_or_random_rule(_redact_decoded, looks_random),
    *PERSONAL_RULES,
    *CARD_RULES,
)


# Below this length a rule reads the whole text; above it, a single-line rule
# with hints reads only the lines that hold one (most lines of a long alert text
# hold none, and a regex that starts with a look-behind costs per character).
_LINES_ONLY_FROM = 8192


def _lines_holding(hint: str, lowered: str, starts: list[int]) -> list[int]:
    """The numbers of the lines of ``lowered`` that hold ``hint`` (``starts``:
    where each line starts)."""
    numbers: list[int] = []
    position = lowered.find(hint)
    while position != -1:
        numbers.append(bisect.bisect_right(starts, position) - 1)
        end = lowered.find("\n", position)
        if end == -1:
            break
        position = lowered.find(hint, end)
    return numbers


# The most text one regex scan reads at a time where the rule allows pieces: a
# scan holds the GIL from start to end, and a server's event loop waits for it
# (a mebibyte without a line break took the token table 60 ms in one scan).
_PIECE = 16384
_WHITESPACE = re.compile(r"\s")


def _sub_in_pieces(rule: Rule, text: str) -> str:
    """rule.pattern.sub over ``text``, in pieces of about _PIECE characters cut
    just before a whitespace character when the rule is whitespace_free (no
    match can then cross a cut, and each look-around sees what it would have
    seen: a whitespace character or an end, neither a letter nor a digit)."""
    if not rule.whitespace_free or len(text) <= _PIECE:
        return rule.pattern.sub(rule.replace, text)
    pieces: list[str] = []
    start = 0
    while start < len(text):
        cut = _WHITESPACE.search(text, start + _PIECE) if start + _PIECE < len(text) else None
        end = cut.start() if cut is not None else len(text)
        pieces.append(rule.pattern.sub(rule.replace, text[start:end]))
        start = end
    return "".join(pieces)


def _redact_long(text: str) -> str:
    """:func:`redact_text` for a long text: the multi-line rules on the whole
    text, then each single-line rule with hints only on the lines that hold one
    (most lines of a long alert text hold none, and a pattern that starts with a
    look-behind costs per character read).  Single-line rules never add or take
    away a line, so line numbers found once stay right."""
    lowered = text.lower()
    for rule in _MULTI_LINE_RULES:
        if not rule.hints or any(hint in lowered for hint in rule.hints):
            text = rule.pattern.sub(rule.replace, text)
    lowered = text.lower()
    if len(lowered) != len(text):  # lower() changed a length ("\u0130")
        for rule in _SINGLE_LINE_RULES:
            text = rule.pattern.sub(rule.replace, text)
        return text
    lines = text.split("\n")
    starts = list(itertools.accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
    holding: dict[str, list[int]] = {}
    for rule in _SINGLE_LINE_RULES:
        if not rule.hints:
            joined = _sub_in_pieces(rule, "\n".join(lines))
            lines = joined.split("\n")
            continue
        if not any(hint in lowered for hint in rule.hints):
            continue
        numbers: set[int] = set()
        for hint in rule.hints:
            if hint not in holding:  # many rules share a hint ("token", "key")
                holding[hint] = _lines_holding(hint, lowered, starts)
            numbers.update(holding[hint])
        sub = rule.pattern.sub
        replace = rule.replace
        for number in sorted(numbers):
            lines[number] = sub(replace, lines[number])
    return "\n".join(lines)


def redact_text(text: str) -> str:
    """Replace every secret found in ``text`` with ``[REDACTED:<kind>]``."""
    if not text:
        return text
    if len(text) <= REMEMBERED_UP_TO:
        return _redact_remembered(text)
    if len(text) >= _LINES_ONLY_FROM:
        return _redact_long(text)
    return _redact(text)


# Every rule's hints in one pattern (the longest first, though any order
# would do: only whether one occurs is asked). Most short texts an alert
# brings that are new to the redactor (ids, fingerprints, pod names) hold no
# hint at all: one scan for any of them costs ~2.8 µs where asking each rule
# in turn cost ~5.9 µs (bench/RESULTS.md, the sixth pass).
_ANY_HINT = re.compile(
    "|".join(
        re.escape(hint)
        for hint in sorted({hint for rule in _RULES for hint in rule.hints}, key=len, reverse=True)
    )
)
# The rules that run on every text, in their order in _RULES.
_UNHINTED_RULES = tuple(rule for rule in _RULES if not rule.hints)


def _rules_for(lowered: str) -> Sequence[Rule]:
    """The rules to run, in order, on a text whose lower-case form is
    ``lowered``: those without hints, and those with a hint in it."""
    if _ANY_HINT.search(lowered) is None:
        return _UNHINTED_RULES
    found: list[Rule] = []
    for rule in _RULES:
        # A plain loop, not any(<generator>): this check is most of the cost
        # of a short text that holds a hint.
        if rule.hints:
            for hint in rule.hints:
                if hint in lowered:
                    break
            else:
                continue
        found.append(rule)
    return found


def _redact(text: str) -> str:
    # Hints are looked up in the text as it came: a replacement only takes a
    # secret out and puts a marker in, and no rule starts at a marker, so a hint
    # that appears only afterwards could not lead to a match.
    for rule in _rules_for(text.lower()):
        text = rule.pattern.sub(rule.replace, text)
    return text


_redact_remembered = functools.lru_cache(maxsize=REMEMBERED_MOST)(_redact)

_MULTI_LINE_RULES = tuple(rule for rule in _RULES if not rule.single_line)
_SINGLE_LINE_RULES = tuple(rule for rule in _RULES if rule.single_line)
assert _RULES == _MULTI_LINE_RULES + _SINGLE_LINE_RULES, "multi-line rules come first"


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """Redact a ``map<string,string>`` (labels, annotations); keys are kept.

    A non-empty value under a sensitive key is replaced whole by
    ``[REDACTED:<kind of the key>]``; every other value goes through
    :func:`redact_text`.
    """
    redacted: dict[str, str] = {}
    for key, value in values.items():
        kind = key_kind(key)
        if kind is not None and value:
            redacted[key] = marker(kind)
        else:
            redacted[key] = redact_text(value)
    return redacted


_NAME_FIELDS = ("name", "key", "Name", "Key", "ParameterKey", "parameterKey", "header")
_VALUE_FIELDS = ("value", "Value", "ParameterValue", "parameterValue")


def _named_value_key(value: Mapping[object, object]) -> tuple[str, str] | None:
    """For ``{"name": "DB_PASSWORD", "value": ...}``: ("value", "DB_PASSWORD")."""
    for name_field in _NAME_FIELDS:
        name = value.get(name_field)
        if isinstance(name, str):
            for value_field in _VALUE_FIELDS:
                if value_field in value:
                    return value_field, name
    return None


def redact_json(value: object, key: str | None = None) -> object:
    """Redact a JSON value (dict/list/str/number/bool/None) recursively.

    ``key`` is the name the value is stored under, if any.  A value under a
    sensitive key is replaced whole by the string ``[REDACTED:<kind>]`` whatever
    its type (a number, an object, a list), except null, which has nothing to
    hide.  Strings elsewhere go through :func:`redact_text`; dict keys are kept.
    An object that names its value (Kubernetes env, ECS, HAR headers:
    ``{"name": "DB_PASSWORD", "value": "..."}``) is read as that key and value.
    """
    if key is not None and value is not None:
        kind = key_kind(key)
        if kind is not None and value != "":
            return marker(kind)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        named = _named_value_key(value)
        if named is not None:
            value_field, name = named
            return {
                k: redact_json(v, name if k == value_field else str(k)) for k, v in value.items()
            }
        return {k: redact_json(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # ["Cookie", "sid=..."]: Sentry sends headers, cookies, query strings and
        # tags as [name, value] pairs; a pair is redacted like a dict entry.
        if len(value) == 2 and isinstance(value[0], str) and key_kind(value[0]) is not None:
            # The name is text too: "--password=x" names a sensitive key and holds one.
            return [redact_text(value[0]), redact_json(value[1], value[0])]
        return [redact_json(item) for item in value]
    return value
