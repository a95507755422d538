"""Sensitive key names: which map keys, JSON keys and key=value names hold secrets.

A key name is compared in "compact" form: lower case, separators and punctuation
removed, so "X-Api-Key", "api_key", "apiKey" and "user.api-key" all end in
"apikey".  A key is sensitive when its compact form *ends* with one of the words
below (after dropping one qualifier suffix such as "hash" or "value"), so
"userPassword", "DB_PASSWORD", "client_secret", "refresh_token", "user.email"
match while "password_reset_url", "token_count", "max_tokens", "secret_name",
"sessions", "key_id" and "groupKey" do not.  First match wins, so longer words
that need a different kind come before the words they end with.

The same classification decides free text (``DB_PASS=...``, ``--password x``,
``"X_TOKEN", "..."``), maps and JSON, so a key is sensitive everywhere or nowhere.
"""

from __future__ import annotations

import functools
import re

_KEY_SUFFIX_KINDS: tuple[tuple[str, str], ...] = (
    ("secretaccesskey", "aws_secret_access_key"),
    ("awssecretkey", "aws_secret_access_key"),
    ("privatekey", "private_key"),
    ("secretkey", "secret"),
    ("apikey", "api_key"),
    # Keys that are credentials by name although they end in plain "key" (a bare
    # "key" is too common to mean a secret: groupKey, dedup_key, key_id).
    # Azure storage connection strings (AccountKey=, SharedAccessKey=), AWS/GCS
    # HMAC keys, signing and encryption keys, licence keys, PagerDuty routing keys.
    ("sharedaccesskey", "access_key"),
    ("accesskey", "access_key"),
    ("accountkey", "access_key"),
    ("signingkey", "signing_key"),
    ("encryptionkey", "secret"),
    ("masterkey", "secret"),
    ("licensekey", "api_key"),
    ("clientkey", "api_key"),
    ("authkey", "api_key"),
    ("appkey", "api_key"),
    ("adminkey", "api_key"),
    ("ingestkey", "api_key"),
    ("insertkey", "api_key"),
    ("writekey", "api_key"),
    ("servicekey", "api_key"),
    ("routingkey", "api_key"),
    ("integrationkey", "api_key"),
    ("subscriptionkey", "api_key"),
    ("password", "password"),
    ("passwords", "password"),
    ("passwd", "password"),
    ("passphrase", "password"),
    ("pwd", "password"),
    # DB_PASS, MYSQL_PW, SMTP_PASS: the short forms ops configs use.
    ("pass", "password"),
    ("pw", "password"),
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
    # Ids that gitleaks counts as credentials: OAuth client ids, access key ids
    # (AWS, Alibaba, Sumo Logic), webhook URLs (the URL is the credential),
    # "user:password" for curl --user.
    ("accesskeyid", "access_key"),
    ("accessid", "access_key"),
    ("clientid", "client_id"),
    ("webhookurl", "webhook"),
    ("webhook", "webhook"),
    ("authuser", "credentials"),
    # Sidekiq Enterprise/Pro gem credentials: BUNDLE_ENTERPRISE__CONTRIBSYS__COM=user:pass.
    ("contribsyscom", "credentials"),
)

# Whole key names (compact form) that are sensitive although no suffix rule
# covers them: "auth" is the field docker's config.json and many clients use
# for base64 "user:password".
_KEY_EXACT_KINDS: dict[str, str] = {
    "auth": "authorization",
    "basicauth": "authorization",
    "connectionstring": "credentials",
}

# Keys that end in a sensitive word but name something public or not a secret:
# pagination cursors ("page_token"), words that merely end in "pass"/"pw".
_KEY_NOT_SENSITIVE_SUFFIXES: tuple[str, ...] = (
    "pagetoken",
    "bypass",
    "compass",
    "overpass",
    "surpass",
    "firstpass",
    "singlepass",
    "multipass",
    "onepass",
    "highpass",
    "lowpass",
    "bandpass",
    "nopass",
)

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


def compact_key(key: str) -> str:
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


@functools.lru_cache(maxsize=4096)
def _compact_kind(compact: str) -> str | None:
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
        if not candidate.endswith(_ALL_KEY_SUFFIXES):
            continue
        if candidate.endswith(_KEY_NOT_SENSITIVE_SUFFIXES):
            continue
        for suffix, kind in _KEY_SUFFIX_KINDS:
            if candidate.endswith(suffix):
                return kind
    return None


def key_kind(key: str) -> str | None:
    """The redaction kind for a sensitive key name, or None for an ordinary one."""
    if len(key) <= 64:
        return _short_key_kind(key)
    return _compact_kind(compact_key(key))


@functools.lru_cache(maxsize=8192)
def _short_key_kind(key: str) -> str | None:
    # Texts repeat their keys (alertname=, severity:, "labels":): one lookup each.
    return _compact_kind(compact_key(key))


def is_sensitive_key(key: str) -> bool:
    """True when values stored under this key name are secrets or personal data.

    Case- and separator-insensitive: "X-Api-Key", "userPassword", "ip_address",
    "user.email", "Set-Cookie", "DB_PASS", "AccountKey" are sensitive;
    "token_count", "secret_name", "password_reset_url", "key_id" are not.
    """
    return key_kind(key) is not None
