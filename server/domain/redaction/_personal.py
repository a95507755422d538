"""Personal data (Sentry's scrubbing classes): email, card numbers, US SSNs, IMEIs,
user names in home-directory paths.

Kept on purpose, as operations text: IP addresses (SPEC section 6; Sentry scrubs
them only when asked) and MAC addresses (not in Sentry's default set either).
"""

from __future__ import annotations

import re

from server.domain.redaction._common import NM, Rule, luhn_ok

# Pseudo top-level domains of internal names: "deploy@web-01.prod.internal" is an
# ssh target, not a mailbox.
_INTERNAL_TLDS = frozenset(
    ["internal", "local", "localdomain", "lan", "home", "corp", "intranet", "private", "svc", "cluster", "localhost", "test", "invalid", "example", "arpa", "intra", "priv"]
)
# Commands whose "user@host" argument is a login, not an address.
_LOGIN_COMMANDS = re.compile(r"(?:^|[\s;|&(`'\"])(?:ssh|scp|sftp|rsync|mosh|ssh-copy-id|sshpass|telnet|ansible)\b[^\r\n;|&]{0,200}$")


def _email_kind(match: re.Match[str]) -> str | None:
    address = match.group(0)
    tld = address.rsplit(".", 1)[-1].lower()
    if tld in _INTERNAL_TLDS:
        return None
    text = match.string
    after = text[match.end() : match.end() + 2]
    if after[:1] == ":" and after[1:2] in ("/", "~", "") or after[:1] == ":" and after[1:2].isalnum():
        return None  # scp target: user@host:path
    if _LOGIN_COMMANDS.search(text, max(0, match.start() - 200), match.start()):
        return None
    return "email"


EMAIL_RULE = Rule(
    # An address needs a dotted domain ending in an alphabetic TLD that is not an
    # internal pseudo-TLD, and is not the argument of ssh/scp/rsync.  Not the user
    # of "scheme://user@host" (look-behind on "/") and not "git@host:org/repo".
    "email",
    re.compile(
        r"(?<![A-Za-z0-9._%+\-/])(?!git@)[A-Za-z0-9._%+\-]{1,64}+@"
        r"[A-Za-z0-9][A-Za-z0-9\-]{0,62}+\.(?:[A-Za-z0-9][A-Za-z0-9\-]{0,62}+\.){0,8}"
        r"[A-Za-z]{2,24}+(?![A-Za-z0-9\-])"
    ),
    _email_kind,
    hints=("@",),
)

# ---------------------------------------------------------------------------
# Card numbers
# ---------------------------------------------------------------------------

# Issuer prefixes (IIN ranges) and the lengths each network issues.
_ISSUERS: tuple[tuple[re.Pattern[str], frozenset[int]], ...] = (
    (re.compile(r"4"), frozenset({13, 16, 19})),  # Visa
    (re.compile(r"5[1-5]|2(?:2[2-9][1-9]|2[3-9]|[3-6]|7[01]|720)"), frozenset({16})),  # Mastercard
    (re.compile(r"3[47]"), frozenset({15})),  # American Express
    (re.compile(r"6(?:011|4[4-9]|5)"), frozenset({16, 17, 18, 19})),  # Discover
    (re.compile(r"3(?:0[0-5]|[68])"), frozenset({14, 15, 16, 17, 18, 19})),  # Diners Club
    (re.compile(r"35(?:2[89]|[3-8])"), frozenset({16, 17, 18, 19})),  # JCB
    (re.compile(r"62"), frozenset({16, 17, 18, 19})),  # UnionPay
    (re.compile(r"5[06-9]|6[0-9]"), frozenset({12, 13, 14, 15, 16, 17, 18, 19})),  # Maestro
)

_CARD_CONTEXT = re.compile(
    r"(?i:card|credit|debit|visa|master|amex|discover|payment|pan\b|cc[ _\-]?num|cvv|charge)"
)
_ID_CONTEXT = re.compile(r"(?i:trace|span|id|seq|offset|ts|time|epoch|nanos|count|bytes)[\w.\-\]\"']*[ \t]*[:=]?[ \t\"']*$")


def _card_kind(match: re.Match[str]) -> str | None:
    """Luhn, and an issuer's prefix with one of its lengths, or a card word nearby;
    never a number that follows an id word ("trace_id=", "dd.span_id:")."""
    raw = match.group(0)
    digits = raw.replace(" ", "").replace("-", "")
    if not (12 <= len(digits) <= 19 and luhn_ok(digits)):
        return None
    text = match.string
    before = text[max(0, match.start() - 40) : match.start()]
    if raw == digits and _ID_CONTEXT.search(before):
        return None
    issuer = any(p.match(digits) and len(digits) in lengths for p, lengths in _ISSUERS)
    if issuer and (raw != digits or len(digits) <= 16):
        return "card_number"
    if _CARD_CONTEXT.search(before):
        return "card_number"
    return None


CARD_RULES: tuple[Rule, ...] = (
    # 13-19 digits, bare or grouped (4-4-4-4[-3], 4-6-4|5).  The look-arounds
    # refuse digits that are part of something larger: a longer number, a decimal
    # (0.4111...), a version, an id with letters, a negative.  Grouped 19-digit
    # numbers get their own rule first: when the last group turns out to be a
    # separate number, the next rule still sees the 16-digit card in front of it.
    # They start with the first digit and look behind it afterwards so that re
    # skips to the next candidate digit in C.
    Rule(
        "card_number_19",
        re.compile(
            r"[2-6](?<![A-Za-z0-9_.\-][2-6])"
            r"[0-9]{3}(?:[ \-][0-9]{4}){3}[ \-][0-9]{3}"
            r"(?![A-Za-z0-9_]|[.\-][0-9])"
        ),
        _card_kind,
    ),
    Rule(
        "card_number",
        re.compile(
            r"[2-6](?<![A-Za-z0-9_.\-][2-6])"
            r"(?:[0-9]{12,18}"  # bare
            r"|[0-9]{3}(?:[ \-][0-9]{4}){2}[ \-][0-9]{1,4}"  # 4-4-4-1..4
            r"|(?<=3)[0-9]{3}[ \-][0-9]{6}[ \-][0-9]{4,5})"  # 4-6-4/5: Amex, Diners
            r"(?![A-Za-z0-9_]|[.\-][0-9])"
        ),
        _card_kind,
    ),
)

# ---------------------------------------------------------------------------
# Other identifiers of people
# ---------------------------------------------------------------------------


def _ssn_ok(text: str) -> bool:
    area, group, serial = text.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _imei_kind(match: re.Match[str]) -> str | None:
    return "imei" if luhn_ok(match.group("secret").replace("-", "")) else None


# Home directories of service accounts are operations text, not a person.
_SERVICE_USERS = frozenset(
    ["root", "ubuntu", "ec2-user", "admin", "runner", "deploy", "app", "git", "jenkins", "centos", "debian", "node", "www-data", "postgres", "mysql", "redis", "nginx", "ci", "build", "user", "vagrant", "docker", "circleci", "travis", "gitlab-runner", "azureuser", "opc", "core", "fedora", "alpine", "shared", "public", "default", "all", "users"]
)

PERSONAL_RULES: tuple[Rule, ...] = (
    # US social security numbers (AAA-GG-SSSS, without the never-issued ranges).
    Rule(
        "us_ssn",
        re.compile(r"[0-8](?<![\w.\-][0-8])[0-9]{2}-[0-9]{2}-[0-9]{4}(?![\w\-]|\.[0-9])"),
        "us_ssn",
        accept=_ssn_ok,
    ),
    # IMEI / IMEISV after the word: 15 digits passing Luhn (8-6-1 groups allowed).
    Rule(
        "imei",
        re.compile(
            r"(?i:imei(?:sv)?)[\w]{0,8}+[\"']?[ \t]*+[:=#]?[ \t]*+[\"']?" + NM
            + r"(?P<secret>[0-9]{2}-?[0-9]{6}-?[0-9]{6}-?[0-9])(?![0-9])"
        ),
        _imei_kind,
        hints=("imei",),
    ),
    # The user name in a home directory: /Users/<name>/, /home/<name>/,
    # C:\Users\<name>\ (Sentry's "userpath").  Service accounts stay.
    Rule(
        "user_path",
        re.compile(
            r"(?:/Users/|/home/|[A-Za-z]:\\{1,2}Users\\{1,2}|[A-Za-z]:/Users/)" + NM
            + r"(?P<secret>[\w.\-]{1,64}+)(?=[/\\])"
        ),
        lambda match: None if match.group("secret").lower() in _SERVICE_USERS else "user_path",
        hints=("/users/", "/home/", "\\users\\"),
    ),
)
