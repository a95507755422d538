"""Redaction of secrets and personal data (SPEC section 6).

Everything the service stores or returns about an event passes through here first:
the content (title + annotations), its preview, and every string of the source
envelope (labels, annotations, payload Struct, source_url, title).  A found secret
becomes ``[REDACTED:<kind>]`` and the text around it is kept, so an operator still
sees *what* was there and *where*, never the value.

Three entry points cover the three shapes of data:

- :func:`redact_text` for free text: an ordered table of compiled regexes
  (:data:`_RULES`), read top to bottom, each replacing only the secret part of what
  it matches (``password=[REDACTED:password]`` keeps ``password=``).
- :func:`redact_mapping` for ``map<string,string>`` (labels, annotations): a value
  under a sensitive key name (:func:`is_sensitive_key`) is replaced whole; any
  other value goes through :func:`redact_text`.
- :func:`redact_json` for JSON values (a payload Struct after ``MessageToDict``):
  the same, recursively; keys are kept.

Properties the tests hold the rules to:

- Idempotent: ``redact_text(redact_text(x)) == redact_text(x)``.  Every rule refuses
  to start a secret at ``[REDACTED:`` and no rule can match inside a marker, so a
  second pass finds nothing new.
- Ordinary operations text is left alone: hostnames, pod names, namespaces, UUIDs,
  git SHAs, plain IP addresses, metric names, PromQL, durations, timestamps, URLs
  without credentials, numbers that are not card numbers.
- Linear time: every pattern either starts with a literal or with a one-character
  look-behind that stops a match from starting inside a run of the characters it
  would consume, so each run is scanned from one place only; open-ended spans
  (PEM bodies, header values) are bounded.  Inside a pattern, no two unbounded
  repeats that can take the same characters meet (not even across an optional
  separator): a run followed by something that cannot start with the run's
  characters is possessive (``*+``, ``++``, ``{m,n}+``) or atomic (``(?>...)``),
  so a failed match gives nothing back to try again.  Rules are also skipped
  outright when the text lacks a substring every match must contain (``hints``).
  tests/domain/test_redaction_linear.py holds every rule to this with a mebibyte
  of its worst input.

Kinds in free text: ``private_key``, ``url_password``, ``slack_webhook``, ``jwt``,
``aws_access_key_id``, ``aws_secret_access_key``, ``github_token``,
``gitlab_token``, ``slack_token``, ``stripe_key``, ``api_key`` (also OpenAI and
Anthropic keys), ``google_api_key``, ``twilio_key``, ``sendgrid_key``,
``authorization``, ``token`` (also a bare ``Bearer <token>``), ``cookie``,
``password``, ``secret``, ``session``, ``email``, ``card_number``.  Kinds of
sensitive map keys add ``ip_address`` and ``credentials``.

Decisions worth knowing:

- ``Authorization`` keeps its scheme word (``Authorization: Basic
  [REDACTED:authorization]``); a token with a shape of its own is named by it
  (``Authorization: Bearer [REDACTED:jwt]``).  Parameter-list schemes (Digest,
  AWS4-HMAC-SHA256, OAuth 1.0) lose the rest of the line.

- Twilio: API key SIDs (``SK`` + 32 hex) are redacted.  Account SIDs (``AC`` + 32
  hex) are kept: they are identifiers that appear in console URLs and logs, not
  credentials; the account's auth token is the secret and is caught as the value
  of ``auth_token=`` / ``token:`` keys.
- Stripe: secret (``sk_``), restricted (``rk_``) keys and webhook signing secrets
  (``whsec_``) are redacted; publishable keys (``pk_``) are public by design.
- Card numbers: 13-19 digits (bare, or in the usual 4-4-4-4[-3] / 4-6-4|5 groups)
  that pass the Luhn check *and* start with 2-6 (the ranges the card networks
  issue).  The first-digit rule keeps epoch-millisecond and -nanosecond timestamps
  (which start with 1) from being taken for cards one time in ten.
- Email addresses are redacted in free text (personal data); plain IP addresses
  are kept (operations text) unless they are the value of a sensitive key such as
  ``ip_address``.  ``git@host`` and the user part of ``scheme://user@host`` are
  not taken for email addresses.
- A sensitive key whose value is empty (``""``) or null keeps it: there is nothing
  to hide, and a marker would claim otherwise.
- In JSON, a two-element list ``[name, value]`` whose name is a sensitive key is
  treated as a pair (Sentry sends request headers, cookies and query strings that
  way), so ``["Cookie", "sid=..."]`` becomes ``["Cookie", "[REDACTED:cookie]"]``.
- The key name ``secret`` is sensitive as the spec says, so a Kubernetes label
  ``secret=<name of a Secret object>`` loses its value too; that is the price of
  never storing a real ``secret=`` value.

Bump :data:`REDACTION_VERSION` whenever a rule changes (SPEC section 6).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "REDACTION_VERSION",
    "is_sensitive_key",
    "redact_json",
    "redact_mapping",
    "redact_text",
]

# v2: a [name, value] pair's name is redacted too; content is built from the
# annotations redacted as a map (server/domain/derivation.py).
REDACTION_VERSION: str = "v2"

_MARKER_PREFIX = "[REDACTED:"


def _marker(kind: str) -> str:
    return f"{_MARKER_PREFIX}{kind}]"


# ---------------------------------------------------------------------------
# Sensitive key names
# ---------------------------------------------------------------------------

# A key name is compared in "compact" form: lower case, separators and
# punctuation removed, so "X-Api-Key", "api_key", "apiKey" and "user.api-key" all
# end in "apikey".  A key is sensitive when its compact form *ends* with one of
# these words (after dropping one qualifier suffix such as "hash" or "value"), so
# "userPassword", "DB_PASSWORD", "client_secret", "refresh_token", "user.email"
# match while "password_reset_url", "token_count", "max_tokens", "secret_name",
# "sessions", "key_id" and "groupKey" do not.  First match wins, so longer words
# that need a different kind come before the words they end with.
_KEY_SUFFIX_KINDS: tuple[tuple[str, str], ...] = (
    ("secretaccesskey", "aws_secret_access_key"),
    ("awssecretkey", "aws_secret_access_key"),
    ("privatekey", "private_key"),
    ("secretkey", "secret"),
    ("apikey", "api_key"),
    ("password", "password"),
    ("passwords", "password"),
    ("passwd", "password"),
    ("passphrase", "password"),
    ("pwd", "password"),
    ("secret", "secret"),
    ("secrets", "secret"),
    ("token", "token"),
    ("authorization", "authorization"),
    ("cookie", "cookie"),
    ("cookies", "cookie"),
    ("emailaddress", "email"),
    ("email", "email"),
    ("emails", "email"),
    ("ipaddress", "ip_address"),
    ("ipaddr", "ip_address"),
    ("sessionid", "session"),
    ("sessionkey", "session"),
    ("session", "session"),
    ("credentials", "credentials"),
    ("credential", "credentials"),
    ("creds", "credentials"),
    ("cardnumber", "card_number"),
    ("cvv", "card_number"),
)

# Whole key names (compact form) that are sensitive although no suffix rule
# covers them: "auth" is the field docker's config.json and many clients use
# for base64 "user:password".
_KEY_EXACT_KINDS: dict[str, str] = {"auth": "authorization", "basicauth": "authorization"}

# Keys that end in a sensitive word but name something public: pagination
# cursors ("page_token", "next_page_token") are opaque, not credentials.
_KEY_NOT_SENSITIVE_SUFFIXES: tuple[str, ...] = ("pagetoken",)

# A sensitive word followed by one of these is still the secret, stored another
# way: "password_hash", "token_value", "api_key_b64".
_KEY_QUALIFIERS: tuple[str, ...] = ("value", "hash", "base64", "b64", "raw", "plaintext", "plain")

# Every suffix of the table at once, so that an ordinary key (most keys) is
# refused by one C-level endswith() instead of a loop over the table.
_ALL_KEY_SUFFIXES: tuple[str, ...] = tuple(suffix for suffix, _ in _KEY_SUFFIX_KINDS)

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


# The kind of a key depends on the end of its compact form only: an exact name,
# or a suffix with perhaps a qualifier after it, all within this many characters.
_KEY_DECIDING_LENGTH = (
    1
    + max(len(qualifier) for qualifier in _KEY_QUALIFIERS)
    + max(
        len(word) for word in (*_ALL_KEY_SUFFIXES, *_KEY_NOT_SENSITIVE_SUFFIXES, *_KEY_EXACT_KINDS)
    )
)


def _compact_key(key: str) -> str:
    """The key lower-cased, letters and digits only ("X-Api-Key" -> "xapikey").

    For a long key (a JSON key can be a mebibyte), only enough of its end to hold
    _KEY_DECIDING_LENGTH letters and digits, which decide the kind just as the
    whole would: reading four times more of the key each round keeps a key made
    mostly of punctuation linear too.
    """
    size = 4 * _KEY_DECIDING_LENGTH
    while True:
        compact = _NOT_ALNUM.sub("", key[-size:].lower())
        if len(compact) >= _KEY_DECIDING_LENGTH or size >= len(key):
            return compact
        size *= 4


def _key_kind(key: str) -> str | None:
    """The redaction kind for a sensitive key name, or None for an ordinary one."""
    compact = _compact_key(key)
    if not compact:
        return None
    if compact in _KEY_EXACT_KINDS:
        return _KEY_EXACT_KINDS[compact]
    candidates = [compact]
    for qualifier in _KEY_QUALIFIERS:
        if compact.endswith(qualifier) and len(compact) > len(qualifier):
            candidates.append(compact[: -len(qualifier)])
            break
    for candidate in candidates:
        if not candidate.endswith(_ALL_KEY_SUFFIXES) or candidate.endswith(
            _KEY_NOT_SENSITIVE_SUFFIXES
        ):
            continue
        for suffix, kind in _KEY_SUFFIX_KINDS:
            if candidate.endswith(suffix):
                return kind
    return None


def is_sensitive_key(key: str) -> bool:
    """True when values stored under this key name are secrets or personal data.

    Case- and separator-insensitive: "X-Api-Key", "userPassword", "ip_address",
    "user.email", "Set-Cookie" are sensitive; "token_count", "secret_name",
    "password_reset_url", "key_id" are not.
    """
    return _key_kind(key) is not None


# ---------------------------------------------------------------------------
# Free-text rules
# ---------------------------------------------------------------------------

# Every rule that captures a secret refuses to start it at an existing marker,
# which keeps a second pass from redacting "[REDACTED:password]" again.
_NM = r"(?!\[REDACTED:)"

# Separator between a key and its value in text: key=value, key: value,
# "key": "value", 'key': 'value', and JSON escaped inside a JSON string
# (\"key\": \"value\").  Spaces and tabs only: a value is never taken from the
# next line.  The runs are possessive: what follows each one (a quote, ":" / "=",
# a value that never starts with a space) cannot start with its characters, so
# giving some back could never make a match, only cost time.
_KEY_SEP = r"""\\*+["']?[ \t]*+[:=][ \t]*+"""

# A value after a key, in any of the quotings above.  Exactly one of the
# "secret*" groups takes part in a match; only that span is replaced, so quotes
# and the key stay.
_KEY_VALUE = (
    r"(?:"
    # "value" -- a JSON string; backslash escapes inside it are part of the value.
    r'"' + _NM + r'(?P<secret_dq>(?:[^"\\\r\n]|\\.){1,4096})"'
    # \"value\" -- JSON escaped inside another JSON string (logs of logs).
    r'|\\++"' + _NM + r'(?P<secret_eq>[^"\\\r\n]{1,4096}+)\\++"'
    # 'value' -- Python reprs, shell.
    r"|'" + _NM + r"(?P<secret_sq>[^'\r\n]{1,4096}+)'"
    # bare value: up to whitespace, a quote, or a list/query delimiter (, ; &).
    # null/true/false/none are not secrets and say something useful ("token=null").
    r"|(?![=:])(?!(?i:null|none|true|false)\b)" + _NM + r"""(?P<secret_bare>[^\s"'`,;&\\]+)"""
    r")"
)

# Key words whose value is a secret in key=value / key: value / JSON text.  They
# may be the tail of a longer name ("DB_PASSWORD=", "client_secret=",
# "x-access-token:", "PGPASSWORD="), so there is no look-behind; the separator
# must follow at once, which keeps "password reset flow failed", "token bucket",
# "max_tokens=5" and "token_count: 3" out.
_SECRET_KEY_WORDS = (
    r"passw(?:or)?d|passphrase|pwd"
    r"|secret(?:[_\-]?(?:access[_\-]?)?key)?"
    r"|token"
    r"|api[ _\-]?key"
    r"|private[_\-]?key"
    r"|session[_\-]?(?:id|key)"
    r"|cookies?"
)

# The same words as a pattern that starts with a plain (case-sensitive) class of
# their first letters: re then skips every other character in a C loop instead of
# trying the whole case-insensitive alternation at each position, which made this
# rule the slowest to scan a long text.  The class holds every character that
# matches one of those letters case-insensitively ("\u017f", long s, matches "s");
# a one-character look-behind ties each branch to its letter, so the words match
# exactly as ``(?i:`` + _SECRET_KEY_WORDS + ``)`` does.
_SECRET_KEY_WORDS_FAST = (
    r"[AaCcPpSsTt\u017f](?i:"
    r"(?<=p)(?:assw(?:or)?d|assphrase|wd|rivate[_\-]?key)"
    r"|(?<=s)(?:ecret(?:[_\-]?(?:access[_\-]?)?key)?|ession[_\-]?(?:id|key))"
    r"|(?<=t)oken"
    r"|(?<=a)pi[ _\-]?key"
    r"|(?<=c)ookies?"
    r")"
)

# Authorization schemes whose credential is one token ("Bearer abc").  Other
# schemes (Digest, AWS4-HMAC-SHA256, OAuth 1.0, ...) carry a list of parameters,
# so for them the whole rest of the header value is the secret.
_SINGLE_TOKEN_SCHEMES = r"bearer|basic|token|bot|apikey|api-key|sso-key"
_PARAM_SCHEMES = (
    r"digest|aws4-hmac-sha256|oauth|negotiate|ntlm|hoba|mutual|scram-sha-1|scram-sha-256|vapid"
)


# Luhn doubles every second digit from the right and subtracts 9 from a
# two-digit result: the digit (as an ASCII code) each one becomes.
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")


def _luhn_ok(text: str) -> bool:
    """The Luhn check of a card rule's match (digits, spaces and dashes).

    Sums ASCII codes in C rather than digits in a Python loop: a text of card-like
    groups calls this once per group.
    """
    digits = text.replace(" ", "").replace("-", "")
    if not (13 <= len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        return False
    codes = digits.encode("ascii")
    total = sum(codes[-1::-2]) + sum(codes[-2::-2].translate(_LUHN_DOUBLED)) - 48 * len(codes)
    return total % 10 == 0


@dataclass(frozen=True)
class _Rule:
    """One row of the table: what to find, what kind it is, what it needs.

    The part replaced is the group whose name starts with "secret" that took part
    in the match (the whole match when the pattern has none); the rest of the
    match is kept.  ``kind`` is fixed, or computed from the match (key=value rules
    name the kind after the key).  ``accept`` can veto a match (the Luhn check).
    ``hints``: lower-case substrings of which every match contains at least one;
    the rule is skipped when the text has none of them.
    """

    name: str
    pattern: re.Pattern[str]
    kind: str | Callable[[re.Match[str]], str]
    hints: tuple[str, ...] = ()
    accept: Callable[[str], bool] | None = None
    # Numbers, not names, of the "secret*" groups: replace() runs once per match
    # and a text can hold a hundred thousand of them.
    secret_groups: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        groups = tuple(
            number for name, number in self.pattern.groupindex.items() if name.startswith("secret")
        )
        object.__setattr__(self, "secret_groups", groups)

    def replace(self, match: re.Match[str]) -> str:
        text = match.string
        match_start, match_end = match.span()
        start = end = -1
        for group in self.secret_groups:
            start, end = match.span(group)
            if start != -1:
                break
        if start == -1:
            start, end = match_start, match_end
        if self.accept is not None and not self.accept(text[start:end]):
            return text[match_start:match_end]
        kind = self.kind if isinstance(self.kind, str) else self.kind(match)
        return text[match_start:start] + _marker(kind) + text[end:match_end]


@functools.lru_cache(maxsize=256)
def _kind_of_key_word(word: str) -> str:
    # Only the short words _SECRET_KEY_WORDS matches come here, so the cache
    # stays small; a text with thousands of "pwd:" pairs pays for one lookup.
    return _key_kind(word) or "secret"


def _kind_from_key(match: re.Match[str]) -> str:
    return _kind_of_key_word(match.group("key"))


_RULES: tuple[_Rule, ...] = (
    # PEM private keys first: their base64 body would otherwise feed the token
    # rules piecemeal.  The whole block goes, BEGIN to END line.  The body never
    # contains "-----" (only the END line does), so the scan for the END line
    # stops at the next "-----" and never runs on into a later block: that keeps
    # text full of BEGIN lines linear.  A block cut off before its END line
    # (truncated annotations do that) is redacted as far as its base64 goes.
    # The body is atomic: it can only end at that first "-----", so when the END
    # line is not there, trying every shorter body is wasted work.
    _Rule(
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
            r"(?:(?>(?:[^\-]|-(?!----)){0,32768})-----END [A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
            r"|(?:[A-Za-z0-9+/=\s\\:,]|-(?!----)){0,32768})"
        ),
        "private_key",
        hints=("private key",),
    ),
    # scheme://user:PASSWORD@host -- keep scheme, user and host.  The password
    # stops at / ? # and whitespace (RFC 3986 needs those percent-encoded), so
    # "http://host:8080/x?to=a@b.c" is not a password; it runs to the last "@"
    # before the host, so an unencoded "p@ss" is taken whole.
    _Rule(
        "url_password",
        re.compile(
            r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}+://"
            r"[^\s:/?#@\[\]]{0,256}+:" + _NM + r"(?P<secret>[^\s/?#]{1,256})@"
        ),
        "url_password",
        hints=("://",),
    ),
    # Slack incoming webhooks: the path *is* the credential.
    _Rule(
        "slack_webhook",
        re.compile(
            r"hooks\.slack\.com/(?:services|workflows|triggers)/"
            + _NM
            + r"(?P<secret>[A-Za-z0-9_\-/]{8,})"
        ),
        "slack_webhook",
        hints=("hooks.slack.com/",),
    ),
    # Provider tokens with a recognisable shape come before the key=value rules
    # so that "token=ghp_..." says which kind of token it was.
    #
    # JWT: base64url of '{"' is "eyJ"; header.payload.signature (an unsigned JWT
    # has an empty signature and still leaks its claims).
    _Rule(
        "jwt",
        re.compile(
            r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]*+"
        ),
        "jwt",
        hints=("eyj",),
    ),
    # AWS access key ids: long-term (AKIA) and temporary (ASIA).
    _Rule(
        "aws_access_key_id",
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
        "aws_access_key_id",
        hints=("akia", "asia"),
    ),
    # AWS secret access keys are 40 characters of base64 with no prefix, which a
    # git SHA or any base64 blob also is, so they are only recognised next to a
    # name that says what they are ("aws_secret_access_key = ...",
    # "SecretAccessKey": "...", "AWS secret key: ...").
    # The separator is quotes, blanks, an optional ":" "=" "=>" "is", blanks,
    # quotes.  With the separator left out, the two runs of blanks (and the two
    # of quotes) met, and a long run of them was split every possible way before
    # the match failed: quadratic, 100 s for 32,000 spaces.  The runs are
    # possessive now, so each is read once.  The optional word is not: "is" can
    # still be given back when it is the start of the secret ("is/" + 37 more).
    _Rule(
        "aws_secret_access_key",
        re.compile(
            # (?i:aws..|secret..) with the first letter taken by a plain class, as
            # in _SECRET_KEY_WORDS_FAST, so that a scan skips other characters.
            r"[AaSs\u017f](?i:(?<=a)ws[ _\-]?secret[ _\-]?(?:access[ _\-]?)?key"
            r"|(?<=s)ecret[ _\-]?access[ _\-]?key)"
            r"""[\\"'`]*+[ \t]*+(?:[:=]|=>|\bis\b)?[ \t]*+[\\"'`]*+"""
            r"(?<![A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        "aws_secret_access_key",
        hints=("secret",),
    ),
    # GitHub: classic prefixes (personal, OAuth, user-to-server, server-to-server,
    # refresh) and fine-grained personal access tokens.
    _Rule(
        "github_token",
        re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
        "github_token",
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    # GitLab: personal/project/group (glpat-), deploy (gldt-), runner (glrt-),
    # pipeline trigger (glptt-), SCIM (glsoat-), CI job (glcbt-) tokens.
    _Rule(
        "gitlab_token",
        re.compile(r"(?<![A-Za-z0-9_\-])gl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_\-]{20,}"),
        "gitlab_token",
        hints=("glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-"),
    ),
    # Slack: bot, user, app, refresh, legacy workspace and config tokens
    # (xox[abeprs]-) and app-level tokens (xapp-).
    _Rule(
        "slack_token",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?:xox[abeprs]-[A-Za-z0-9\-]{10,}|xapp-[0-9]-[A-Za-z0-9\-]{10,})"
        ),
        "slack_token",
        hints=("xox", "xapp-"),
    ),
    # Stripe: secret and restricted keys, webhook signing secrets.  Publishable
    # keys (pk_) are meant for browsers and are kept.
    _Rule(
        "stripe_key",
        re.compile(
            r"(?<![A-Za-z0-9_])(?:[sr]k_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,})"
        ),
        "stripe_key",
        hints=("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"),
    ),
    # LLM provider keys (OpenAI project/service-account/admin keys, Anthropic
    # keys): agents handling these alerts carry them.  Only the prefixed forms:
    # a bare "sk-" is too common in names ("sk-deployment-7d9f8b6c5-x2k4q").
    _Rule(
        "llm_api_key",
        re.compile(r"(?<![A-Za-z0-9_\-])sk-(?:proj|svcacct|admin|ant)-[A-Za-z0-9_\-]{20,}"),
        "api_key",
        hints=("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-"),
    ),
    # Google API keys: "AIza" + 35 characters, exactly.
    _Rule(
        "google_api_key",
        re.compile(r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),
        "google_api_key",
        hints=("aiza",),
    ),
    # Twilio API key SIDs: "SK" + 32 hex.  Account SIDs ("AC" + 32 hex) are
    # identifiers and are kept (see the module docstring).
    _Rule(
        "twilio_key",
        re.compile(r"(?<![A-Za-z0-9])SK[0-9a-fA-F]{32}(?![0-9A-Za-z])"),
        "twilio_key",
        hints=("sk",),
    ),
    # SendGrid API keys: "SG." + key id + "." + secret.
    _Rule(
        "sendgrid_key",
        re.compile(r"(?<![A-Za-z0-9_\-])SG\.[A-Za-z0-9_\-]{16,}+\.[A-Za-z0-9_\-]{16,}+"),
        "sendgrid_key",
        hints=("sg.",),
    ),
    # Authorization / Proxy-Authorization header values.  The scheme word is kept
    # ("Authorization: Bearer [REDACTED:authorization]").  Single-token schemes
    # lose one token; parameter-list schemes (Digest ...) lose the rest of the
    # line; with no scheme the first token is the credential.  The no-scheme
    # branch refuses to start at a scheme word, so "Bearer [REDACTED:...]" is not
    # taken for a scheme-less credential "Bearer" on a second pass.
    _Rule(
        "authorization",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?i:(?:proxy-)?authorization)" + _KEY_SEP + r"""[\\"']*+"""
            r"(?:(?i:" + _SINGLE_TOKEN_SCHEMES + r")[ \t]++" + _NM
            + r"""(?P<secret_token>[^\s"'\\,;]+)"""
            r"|(?i:" + _PARAM_SCHEMES + r")[ \t]++" + _NM + r"(?P<secret_params>\S[^\r\n]{0,4095})"
            r"|(?!(?i:" + _SINGLE_TOKEN_SCHEMES + r"|" + _PARAM_SCHEMES + r")\b)" + _NM
            + r"""(?P<secret_bare>[^\s"'\\,;]+))"""
        ),
        "authorization",
        hints=("authorization",),
    ),
    # "Bearer <token>" without a header name (curl lines, error messages).  The
    # token must be 12+ characters with a digit, so prose ("Bearer tokens are
    # ...", "bearer authentication") is left alone; a trailing full stop is
    # punctuation, not token.  The digit test reads up to the first digit (the
    # token characters other than digits, possessively) instead of backtracking
    # from 1024 characters ahead; it accepts the same tokens.
    _Rule(
        "bearer",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?i:bearer)[ \t]++" + _NM
            + r"(?=[A-Za-z\-._~+/=]{0,1023}+[0-9])"
            r"(?P<secret>[A-Za-z0-9\-._~+/=]{11,}[A-Za-z0-9\-_~+/=])"
        ),
        "token",
        hints=("bearer",),
    ),
    # Cookie / Set-Cookie header lines: the whole value (all cookies and their
    # attributes) up to the end of the line or string.  The quoted JSON form
    # ("cookie": "a=b; c=d") is left to the key=value rule below.
    _Rule(
        "cookie",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?i:(?:set-)?cookie)[ \t]*+:[ \t]*+" + _NM
            + r"""(?P<secret>[^\s"'\\][^\r\n"\\]{0,8191})"""
        ),
        "cookie",
        hints=("cookie",),
    ),
    # key=value, key: value and JSON pairs whose key names a secret; the key and
    # the quotes stay, the kind follows the key ("pwd=" -> password).
    _Rule(
        "key_value",
        re.compile(r"(?P<key>" + _SECRET_KEY_WORDS_FAST + r")" + _KEY_SEP + _KEY_VALUE),
        _kind_from_key,
        hints=("pass", "pwd", "secret", "token", "key", "session", "cookie"),
    ),
    # Email addresses are personal data.  Not the user of "scheme://user@host"
    # (look-behind on "/") and not "git@host:org/repo".
    _Rule(
        "email",
        re.compile(
            r"(?<![A-Za-z0-9._%+\-/])(?!git@)[A-Za-z0-9._%+\-]{1,64}+@"
            r"[A-Za-z0-9][A-Za-z0-9\-]{0,62}+\.(?:[A-Za-z0-9][A-Za-z0-9\-]{0,62}+\.){0,8}"
            r"[A-Za-z]{2,24}+(?![A-Za-z0-9\-])"
        ),
        "email",
        hints=("@",),
    ),
    # Card numbers: 13-19 digits, bare or grouped, first digit 2-6, Luhn-valid.
    # The look-arounds refuse digits that are part of something larger: a longer
    # number, a decimal (0.4111...), a version, an id with letters, a negative.
    # Grouped 19-digit numbers (4-4-4-4-3) get their own rule first: when the
    # last group turns out to be a separate number (Luhn fails), the next rule
    # still sees the 16-digit card in front of it.
    # These two rules run on every text (they have no hints), so they start with
    # the first digit, [2-6], and look behind it afterwards ("[2-6](?<!X[2-6])"
    # is "(?<!X)[2-6]"): a pattern that starts with a plain class lets re skip
    # to the next candidate digit in C instead of trying the pattern everywhere.
    _Rule(
        "card_number_19",
        re.compile(
            r"[2-6](?<![A-Za-z0-9_.\-][2-6])"
            r"[0-9]{3}(?:[ \-][0-9]{4}){3}[ \-][0-9]{3}"
            r"(?![A-Za-z0-9_]|[.\-][0-9])"
        ),
        "card_number",
        accept=_luhn_ok,
    ),
    _Rule(
        "card_number",
        re.compile(
            r"[2-6](?<![A-Za-z0-9_.\-][2-6])"
            r"(?:[0-9]{12,18}"  # bare
            r"|[0-9]{3}(?:[ \-][0-9]{4}){2}[ \-][0-9]{1,4}"  # 4-4-4-1..4
            r"|(?<=3)[0-9]{3}[ \-][0-9]{6}[ \-][0-9]{4,5})"  # 4-6-4/5: Amex, Diners
            r"(?![A-Za-z0-9_]|[.\-][0-9])"
        ),
        "card_number",
        accept=_luhn_ok,
    ),
)


def redact_text(text: str) -> str:
    """Replace every secret found in ``text`` with ``[REDACTED:<kind>]``."""
    if not text:
        return text
    lowered = text.lower()
    for rule in _RULES:
        # A plain loop, not any(<generator>): most strings are short and most
        # rules are skipped, so this check is most of the cost of a call.
        if rule.hints:
            for hint in rule.hints:
                if hint in lowered:
                    break
            else:
                continue
        text, count = rule.pattern.subn(rule.replace, text)
        if count:
            lowered = text.lower()
    return text


def redact_mapping(values: Mapping[str, str]) -> dict[str, str]:
    """Redact a ``map<string,string>`` (labels, annotations); keys are kept.

    A non-empty value under a sensitive key is replaced whole by
    ``[REDACTED:<kind of the key>]``; every other value goes through
    :func:`redact_text`.
    """
    redacted: dict[str, str] = {}
    for key, value in values.items():
        kind = _key_kind(key)
        if kind is not None and value:
            redacted[key] = _marker(kind)
        else:
            redacted[key] = redact_text(value)
    return redacted


def redact_json(value: object, key: str | None = None) -> object:
    """Redact a JSON value (dict/list/str/number/bool/None) recursively.

    ``key`` is the name the value is stored under, if any.  A value under a
    sensitive key is replaced whole by the string ``[REDACTED:<kind>]`` whatever
    its type (a number, an object, a list), except null, which has nothing to
    hide.  Strings elsewhere go through :func:`redact_text`; dict keys are kept.
    """
    if key is not None and value is not None:
        kind = _key_kind(key)
        if kind is not None and value != "":
            return _marker(kind)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: redact_json(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # ["Cookie", "sid=..."]: Sentry sends headers, cookies, query strings and
        # tags as [name, value] pairs; a pair is redacted like a dict entry.
        if len(value) == 2 and isinstance(value[0], str) and _key_kind(value[0]) is not None:
            # The name is text too: "--password=x" names a sensitive key and holds one.
            return [redact_text(value[0]), redact_json(value[1], value[0])]
        return [redact_json(item) for item in value]
    return value
