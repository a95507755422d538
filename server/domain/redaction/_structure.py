"""Secrets found by where they stand: after a key, in a header, a URL, a CLI flag.

A key is any name (``DB_PASS``, ``x-api-key``, ``spring.datasource.password``,
``"X_TOKEN"``, ``--password``); whether its value is a secret is decided by
:func:`server.domain.redaction._keys.key_kind`, the same function that decides map
and JSON keys, so the three entry points agree.
"""

from __future__ import annotations

import re

from server.domain.redaction._common import NM, Rule
from server.domain.redaction._keys import compact_key, key_kind

# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

# A value in any of the usual quotings.  Exactly one "secret*" group takes part
# in a match; only that span is replaced, so quotes and the key stay.
_VALUE = (
    r"(?:"
    # "value" -- a JSON string; backslash escapes inside it are part of the value.
    r'"' + NM + r'(?P<secret_dq>(?:[^"\\\r\n]|\\.){1,4096}+)"'
    # \"value\" -- JSON escaped inside another JSON string (logs of logs).
    r'|\\++"' + NM + r'(?P<secret_eq>[^"\\\r\n]{1,4096}+)\\++"'
    # 'value' -- Python reprs, shell; `value` -- Go raw strings, shell.
    r"|'" + NM + r"(?P<secret_sq>[^'\r\n]{1,4096}+)'"
    r"|`" + NM + r"(?P<secret_bt>[^`\r\n]{1,4096}+)`"
    # bare value: up to whitespace or a quote.  A ";" "&" or "," ends it only
    # when the next key or a blank follows (a=1;password=x;b=2 and
    # ?token=x&state=y keep their neighbours; password=ab;cd is taken whole).
    # null/true/false/none are not secrets and say something useful.
    # A template or command substitution ({{ .Values.x }}, $(vault read ..)) is
    # a reference to a secret, not one.
    r"|(?![=:>|])(?!(?i:null|none|nil|true|false|undefined)\b)(?!\{\{|\$\()" + NM
    + r"""(?P<secret_bare>(?:[^\s"'`,;&\\<>]|[,;&](?![\s,;&]|[\w.\-]{1,64}+=|$))++)"""
    r")"
)

# key, then closing quotes/brackets, a type word (Go "string", Kotlin ": String"),
# an operator of any common syntax, blanks.  "," only after a quoted key
# (setProperty("X_TOKEN", "x")), checked in _key_value_kind.
_OPERATOR = (
    r"(?P<close>\\*+[\"'`]\]?|\])?"
    r"(?:[ \t]++(?:string|String|str|&str|\[\]byte)\b|[ \t]*+:[ \t]*+[A-Z][A-Za-z]{1,15}+(?=[ \t]*+=))?"
    r"[ \t]*+(?P<op>=>|:{1,3}=|[?.+]?=(?!=)|:(?![:/\\])|%3[Dd]|%3[Aa]|,)[ \t]*+"
)


def _previous_word(text: str, start: int) -> str:
    """The word before ``start`` across one blank ("Secret" of "Secret Key:")."""
    head = text[max(0, start - 24) : start]
    match = re.search(r"([A-Za-z]{2,20})[ \t]$", head)
    return match.group(1) if match else ""


# Names ending in "key" that are not credentials (a bare "...key" is one only when
# its value looks like one, see _key_value_kind).
_ORDINARY_KEY_NAMES = (
    "groupkey", "dedupkey", "cachekey", "idempotencykey", "partitionkey", "sortkey",
    "primarykey", "foreignkey", "objectkey", "s3key", "hotkey", "monkey", "turkey",
    "publickey", "pubkey", "keykey", "routekey", "messagekey", "lookupkey", "hashkey",
    "rangekey", "indexkey", "shardkey", "bucketkey", "sequencekey", "schemakey",
)
_USER_PASSWORD_PAIR = re.compile(r"[^:/\s@]{3,64}:(?![0-9]+$)[^:/\s@]{8,128}")
_CREDENTIAL_VALUE = re.compile(r"(?=[^\s]*[0-9])(?=[^\s]*[A-Za-z])[\w\-+/=.~]{16,}")


def _value_of(match: re.Match[str]) -> str:
    for group in ("secret_dq", "secret_sq", "secret_bt", "secret_eq", "secret_bare"):
        value = match.group(group)
        if value is not None:
            return value
    return ""


def _key_value_kind(match: re.Match[str]) -> str | None:
    key = match.group("key")
    kind = key_kind(key)
    if kind is None:
        compact = compact_key(key)
        if (
            compact.endswith("key")
            and compact != "key"
            and not compact.endswith(_ORDINARY_KEY_NAMES)
            and _CREDENTIAL_VALUE.fullmatch(_value_of(match))
        ):
            return "api_key"  # HEROKU_KEY = "<uuid>", const hubspotKey = "..."
        if compact.endswith(("url", "uri")) and _USER_PASSWORD_PAIR.fullmatch(_value_of(match)):
            return "credentials"  # GEMS_URL=user:password (not host:port)
    if kind is None and key.lower() in ("key", "keys"):
        # "Secret Key: ...", "API key: ...", "Access Key ID ..."
        previous = _previous_word(match.string, match.start())
        kind = key_kind(previous + key) if previous else None
    if kind is None or compact_key(key).endswith("authorization"):
        return None  # Authorization has its own rule, which keeps the scheme word
    if match.group("op") == "," and not match.group("close"):
        return None  # "token, secret and key" in prose
    return kind


def _inside_value(match: re.Match[str]) -> str:
    """An ordinary key's quoted value may hold key=value text of its own
    ("config.ini": "DB_TOKEN=...\\nX=1"): scan the value again with this rule."""
    text = match.string
    for group in ("secret_dq", "secret_sq", "secret_bt", "secret_eq"):
        start, end = match.span(group)
        if start != -1:
            value = text[start:end]
            if "=" in value or ":" in value:
                inner = KEY_VALUE_RULE.pattern.sub(KEY_VALUE_RULE.replace, value)
                return text[match.start() : start] + inner + text[end : match.end()]
            break
    return text[match.start() : match.end()]


# Substrings one of which a sensitive key name holds (see _keys).
_KEY_HINTS = (
    "pass", "pw", "secret", "token", "key", "auth", "cookie", "session", "cred", "email",
    "ip", "card", "cvv", "contribsys", "connectionstring", "access", "client", "webhook",
    "url", "uri",
)

KEY_VALUE_RULE = Rule(
    "key_value",
    re.compile(
        r"(?P<key>[A-Za-z_\-](?<![\w.\-][A-Za-z_\-])[\w.\-]{0,127}+)" + _OPERATOR + _VALUE
    ),
    _key_value_kind,
    hints=_KEY_HINTS,
    fallback=_inside_value,
)

# key: | / key: >- (YAML block scalars): the indented lines below are the value.
YAML_BLOCK_RULE = Rule(
    "yaml_block",
    re.compile(
        r"(?P<key>[A-Za-z_\-](?<![\w.\-][A-Za-z_\-])[\w.\-]{0,127}+)[\"']?[ \t]*+:[ \t]*+"
        r"[|>][\-+]?[0-9]?[ \t]*+\r?\n(?P<indent>[ \t]++)" + NM
        + r"(?P<secret>[^\r\n]{1,4096}+(?:\r?\n(?P=indent)[^\r\n]{1,4096}+){0,64}+)"
    ),
    lambda match: key_kind(match.group("key")),
    hints=(": |", ": >", ":|", ":>"),
    single_line=False,
)

# --password hunter2, -password hunter2 (the "=" form is KEY_VALUE_RULE's).
_FLAG_RULE = Rule(
    "cli_flag",
    re.compile(
        # "-" first, then the look-behind on the character before it: a
        # pattern that starts with a literal is searched for in C, one that
        # starts with a look-behind is tried at every position.
        r"-(?<![\w\-]-)-?(?P<key>[A-Za-z][\w\-]{0,63}+)[ \t]++"
        r"(?![\-|>&])" + NM
        + r"""(?:"(?P<secret_dq>[^"\r\n]{1,4096}+)"|'(?P<secret_sq>[^'\r\n]{1,4096}+)'"""
        r"""|(?P<secret_bare>[^\s"'`;&|<>]++))"""
    ),
    lambda match: key_kind(match.group("key")),
    hints=_KEY_HINTS,
)


def _cli_rules() -> tuple[Rule, ...]:
    return (
        # curl -u user:pass, --user user:pass: the user stays.
        Rule(
            "curl_user",
            re.compile(
                r"(?<![\w\-])(?:-u|--user)(?:=|[ \t]*+)[\"']?[^\s:\"']{1,128}+:" + NM
                + r"(?P<secret>[^\s\"']{1,1024}+)"
            ),
            "password",
            hints=("-u",),
        ),
        # mysql -pSECRET / -p'SECRET' (the password glued to the flag).
        Rule(
            "mysql_password",
            re.compile(
                r"(?<![\w\-])-p(?:'" + NM + r"(?P<secret_sq>[^'\r\n]{1,1024}+)'"
                r"|\"" + NM + r"(?P<secret_dq>[^\"\r\n]{1,1024}+)\""
                r"|(?![0-9:]++(?:\s|$))" + NM + r"(?P<secret_bare>[^\s\"'-][^\s\"']{2,1023}+))"
            ),
            "password",
            hints=("mysql", "mariadb"),
        ),
        _FLAG_RULE,
    )


# ---------------------------------------------------------------------------
# Name/value objects and elements
# ---------------------------------------------------------------------------


def _named_kind(match: re.Match[str]) -> str | None:
    return key_kind(match.group("key"))


NAME_VALUE_RULES: tuple[Rule, ...] = (
    # {"name": "DB_PASSWORD", "value": "..."} (Kubernetes env, ECS), HAR headers,
    # {"key": "api_key", "value": ...}, CloudFormation ParameterKey/ParameterValue.
    Rule(
        "json_name_value",
        re.compile(
            r"\"(?i:name|key|parameterkey|param|header)\"[ \t]*+:[ \t]*+\"(?P<key>[^\"\r\n]{1,128}+)\""
            r"[ \t]*+,[ \t\r\n]*+\"(?i:value|parametervalue)\"[ \t]*+:[ \t]*+"
            r"(?:\"" + NM + r"(?P<secret_dq>(?:[^\"\\\r\n]|\\.){1,4096}+)\""
            r"|(?P<secret_bare>[^\s,}\]\"]{1,4096}+))"
        ),
        _named_kind,
        hints=("value",),
        single_line=False,
    ),
    # Kubernetes env in YAML: "- name: DB_PASSWORD" then "value: ...".
    Rule(
        "yaml_name_value",
        re.compile(
            r"name:[ \t]*+[\"']?(?P<key>[\w.\-]{1,128}+)[\"']?[ \t]*+\r?\n[ \t]*+value:[ \t]*+"
            r"[\"']?" + NM + r"(?P<secret>[^\s\"'][^\r\n\"']{0,4095}+)"
        ),
        _named_kind,
        hints=("value:",),
        single_line=False,
    ),
    # <add key="Password" value="..."/> (NuGet), <entry name="apiToken" value="..."/>.
    Rule(
        "xml_attribute",
        re.compile(
            r"(?i:key|name)=\"(?P<key>[^\"]{1,128}+)\"[ \t\r\n]++(?i:value)=\"" + NM
            + r"(?P<secret>[^\"]{1,4096}+)\""
        ),
        _named_kind,
        hints=("value=",),
        single_line=False,
    ),
    # <password>...</password>, <apiToken>\n  ...\n</apiToken>.
    Rule(
        "xml_element",
        re.compile(
            r"<(?P<key>[A-Za-z_][\w.\-:]{0,63}+)(?:[ \t][^<>\r\n]{0,256}+)?>[ \t\r\n]*+" + NM
            + r"(?P<secret>[^<\s](?:[^<\r\n]{0,4095}+(?<=\S))?)[ \t\r\n]*+</"
        ),
        _named_kind,
        hints=("</",),
        single_line=False,
    ),
)

# ---------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------

# Query parameters that carry a credential although the name is not a secret
# word everywhere: signatures of pre-signed URLs (Azure SAS "sig", AWS, GCS),
# API keys as "key", OAuth authorization codes.
_URL_SECRET_PARAMS: dict[str, str] = {
    "sig": "signature",
    "signature": "signature",
    "xamzsignature": "signature",
    "xamzsecuritytoken": "token",
    "xgoogsignature": "signature",
    "key": "api_key",
    "code": "token",
    "sas": "signature",
}


def _query_kind(match: re.Match[str]) -> str | None:
    key = compact_key(match.group("key"))
    return _URL_SECRET_PARAMS.get(key) or key_kind(match.group("key"))


URL_RULES: tuple[Rule, ...] = (
    # scheme://user:PASSWORD@host -- keep scheme, user and host.  The password
    # stops at / ? # and whitespace (RFC 3986 needs those percent-encoded), so
    # "http://host:8080/x?to=a@b.c" is not a password; it runs to the last "@"
    # before the host, so an unencoded "p@ss" is taken whole.
    Rule(
        "url_password",
        re.compile(
            r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}+://"
            r"[^\s:/?#@\[\]]{0,256}+:" + NM + r"(?P<secret>[^\s/?#]{1,256})@"
        ),
        "url_password",
        hints=("://",),
    ),
    # scheme://TOKEN@host: a token as the whole userinfo (git over HTTPS).  Only
    # a long random-looking userinfo: "ssh://git@host", Sentry DSN keys (hex,
    # public by design) and "deploy@" stay.
    Rule(
        "url_token",
        re.compile(
            r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}+://" + NM
            + r"(?P<secret>[\w\-.~]{20,256}+)@"
        ),
        "url_token",
        hints=("://",),
        accept=lambda userinfo: not all(c in "0123456789abcdef" for c in userinfo)
        and sum(c.isdigit() for c in userinfo) >= 2,
    ),
    # Slack incoming webhooks and Microsoft Teams webhooks: the path is the credential.
    Rule(
        "slack_webhook",
        re.compile(
            r"hooks\.slack\.com/(?:services|workflows|triggers)/" + NM
            + r"(?P<secret>[A-Za-z0-9_\-/]{8,}+)"
        ),
        "slack_webhook",
        hints=("hooks.slack.com/",),
    ),
    Rule(
        "teams_webhook",
        re.compile(
            r"\.(?:webhook\.office|outlook\.office)\.com/(?:webhookb2|webhook)/" + NM
            + r"(?P<secret>[\w\-@/]{8,}+)"
        ),
        "teams_webhook",
        hints=("office.com/webhook",),
    ),
    # URL-encoded pairs inside a value: "body=user%3Dbob%26password%3Dhunter2".
    Rule(
        "url_encoded_pair",
        re.compile(
            r"(?:%26|%3[Ff]|%20|[?&=\s])(?P<key>[A-Za-z_][\w.\-]{0,63}+)%3[Dd]" + NM
            + r"(?P<secret>(?:[^\s&%\"'<>]|%(?!26)[0-9A-Fa-f]{2}){1,4096}+)"
        ),
        _query_kind,
        hints=("%3d",),
    ),
    # ?sig=...&X-Amz-Signature=...&key=...&code=... and any sensitive key.
    Rule(
        "url_query",
        re.compile(
            r"[?&;](?P<key>[\w.\-%]{1,64}+)=" + NM + r"(?P<secret>[^&#\s\"'<>]{1,4096}+)"
        ),
        _query_kind,
        hints=("?", "&"),
    ),
)

# ---------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------

# Authorization schemes whose credential is one token ("Bearer abc").  Other
# schemes (Digest, AWS4-HMAC-SHA256, OAuth 1.0, ...) carry a list of parameters,
# so for them the whole rest of the header value is the secret.
_SINGLE_TOKEN_SCHEMES = r"bearer|basic|token|bot|apikey|api-key|sso-key|key|splunk|gitlab"
_PARAM_SCHEMES = (
    r"digest|aws4-hmac-sha256|oauth|negotiate|ntlm|hoba|mutual|scram-sha-1|scram-sha-256|vapid"
)
_HEADER_SEP = r"""\\*+["']?[ \t]*+[:=][ \t]*+"""

HEADER_RULES: tuple[Rule, ...] = (
    # Authorization / Proxy-Authorization values.  The scheme word is kept
    # ("Authorization: Bearer [REDACTED:authorization]").  Single-token schemes
    # lose one token; parameter-list schemes (Digest ...) lose the rest of the
    # line; with no scheme the first token is the credential.  The no-scheme
    # branch refuses to start at a scheme word, so "Bearer [REDACTED:...]" is not
    # taken for a scheme-less credential "Bearer" on a second pass.
    Rule(
        "authorization",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?i:(?:proxy-)?authorization)" + _HEADER_SEP + r"""[\\"']*+"""
            r"(?:(?i:" + _SINGLE_TOKEN_SCHEMES + r")[ \t]++" + NM
            + r"""(?P<secret_token>[^\s"'\\,;]+)"""
            r"|(?i:" + _PARAM_SCHEMES + r")[ \t]++" + NM + r"(?P<secret_params>\S[^\r\n]{0,4095})"
            r"|(?!(?i:" + _SINGLE_TOKEN_SCHEMES + r"|" + _PARAM_SCHEMES + r")\b)" + NM
            + r"""(?P<secret_bare>[^\s"'\\,;]+))"""
        ),
        "authorization",
        hints=("authorization",),
    ),
    # "Bearer <token>" / "Basic <base64>" without a header name (curl lines, error
    # messages).  The token must be 12+ characters with a digit, so prose
    # ("Bearer tokens are ...", "bearer authentication") is left alone; a
    # trailing full stop is punctuation, not token.
    Rule(
        "bearer",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?i:bearer|basic)[ \t]++" + NM
            + r"(?=[A-Za-z\-._~+/=]{0,1023}+[0-9])"
            r"(?P<secret>[A-Za-z0-9\-._~+/=]{11,}[A-Za-z0-9\-_~+/=])"
        ),
        "token",
        hints=("bearer", "basic"),
    ),
    # Cookie / Set-Cookie header lines: the whole value (all cookies and their
    # attributes) up to the end of the line or string.  The quoted JSON form
    # ("cookie": "a=b; c=d") is left to the key=value rule.
    Rule(
        "cookie",
        re.compile(
            r"(?<![A-Za-z0-9_\-])(?i:(?:set-)?cookie)[ \t]*+:[ \t]*+" + NM
            + r"""(?P<secret>[^\s"'\\][^\r\n"\\]{0,8191})"""
        ),
        "cookie",
        hints=("cookie",),
    ),
)

# ---------------------------------------------------------------------------
# PEM and AWS
# ---------------------------------------------------------------------------

PRIVATE_KEY_RULE = Rule(
    # The whole block goes, BEGIN to END line.  The body never contains "-----"
    # (only the END line does), so the scan for the END line stops at the next
    # "-----" and never runs on into a later block: that keeps text full of
    # BEGIN lines linear.  A block cut off before its END line (truncated
    # annotations do that) is redacted as far as its base64 goes.  The body is
    # atomic: it can only end at that first "-----".
    "private_key",
    re.compile(
        r"-----BEGIN [A-Z0-9 _\-]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
        r"(?:(?>(?:[^\-]|-(?!----)){0,32768})-----END [A-Z0-9 _\-]{0,40}?PRIVATE KEY(?: BLOCK)?-----"
        r"|(?:[A-Za-z0-9+/=\s\\:,]|-(?!----)){0,32768})"
    ),
    "private_key",
    hints=("private key",),
    single_line=False,
)

AWS_RULES: tuple[Rule, ...] = (
    # AWS secret access keys are 40 characters of base64 with no prefix, which a
    # git SHA or any base64 blob also is, so they are only recognised next to a
    # name that says what they are ("aws_secret_access_key = ...",
    # "SecretAccessKey": "...", "AWS secret key: ...").  The separator runs are
    # possessive, so each is read once (they once backtracked quadratically).
    Rule(
        "aws_secret_access_key",
        re.compile(
            r"[AaSs\u017f](?i:(?<=a)ws[ _\-]?secret[ _\-]?(?:access[ _\-]?)?key"
            r"|(?<=s)ecret[ _\-]?access[ _\-]?key)"
            r"""[\\"'`]*+[ \t]*+(?:[:=]|=>|\bis\b)?[ \t]*+[\\"'`]*+"""
            r"(?<![A-Za-z0-9/+])(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        "aws_secret_access_key",
        hints=("secret",),
    ),
    # ... or right after its access key id, as in a credentials CSV export
    # ("AKIA...,wJalr...") or "AKIA... / wJalr...".
    Rule(
        "aws_secret_beside_id",
        re.compile(
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}[\"']?[ \t]*+[,;|:/\t][ \t]*+[\"']?"
            r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        "aws_secret_access_key",
        hints=("akia", "asia"),
    ),
)

STRUCTURE_RULES_CLI = _cli_rules()

# ---------------------------------------------------------------------------
# Prose
# ---------------------------------------------------------------------------


def _prose_value_ok(value: str) -> bool:
    """A value after a secret word in a sentence: a digit in it, not a plain word,
    number, duration or date ("token 4821", "password reset", "secret rotation")."""
    _, colon, password = value.partition(":")
    if colon and len(password) >= 4 and "/" not in value or value.endswith(":"):
        return True  # user:password
    if not any(c.isdigit() for c in value):
        return False
    if value.isdigit():
        return len(value) >= 12
    return not _PROSE_ORDINARY.fullmatch(value)


_PROSE_ORDINARY = re.compile(
    r"[0-9.,:]+(?:ms|s|m|h|d|%|x)?|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[\w:.+\-]*)?|v?[0-9]+(?:\.[0-9]+)+"
)

PROSE_RULE = Rule(
    # "the heroku token 5f1c...", "api key: abc123...", "credentials u:p expired":
    # a secret word, then (perhaps "is" / "was" / ":" / "=") a value with a digit.
    # Plain "key" is not such a word (cache key, idempotency key, key 3).
    "prose_secret",
    re.compile(
        r"[AaCcPpSsTt\u017f](?<![A-Za-z0-9_\-.][A-Za-z\u017f])"
        r"(?i:(?<=t)okens?|(?<=p)assw(?:or)?ds?|(?<=p)assphrase|(?<=s)ecrets?"
        r"|(?<=c)redentials?|(?<=a)pi[ _\-]?keys?|(?<=a)ccess[ _\-]?keys?"
        r"|(?<=s)ecret[ _\-]?keys?|(?<=p)rivate[ _\-]?keys?)"
        r"[ \t]++(?:(?i:is|was|of|=|:)[ \t]++)?[\"']?" + NM
        + r"(?P<secret>[^\s\"'<>,;()\[\]]{8,256}(?<![.:]))(?![^\s\"'<>,;()\[\]])"
    ),
    "secret",
    hints=("token", "pass", "secret", "credential", "key"),
    accept=_prose_value_ok,
)
