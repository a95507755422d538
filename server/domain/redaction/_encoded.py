"""Secrets wrapped in base64: Kubernetes Secret data, .dockerconfigjson, kubeconfig
client-key-data, base64 JWTs.

A run of base64 is decoded; when it is text, that text is redacted like any other
(one level deep), and the run goes whole when something was found in it, or when
it is a docker-style "user:password" pair or a docker config.  Binary (hashes, zlib,
images) and text with nothing in it stay.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable

from server.domain.redaction._common import (
    MARKER_PREFIX,
    REMEMBERED_MOST,
    REMEMBERED_UP_TO,
    Rule,
)

# The longest run decoded; a longer one (an attached file) is left to the other rules.
_MAX_DECODED_RUN = 65536

_USER_PASSWORD = re.compile(r"[^\s:]{1,128}:[^\s]{4,}")
_MARKER_KIND = re.compile(re.escape(MARKER_PREFIX) + r"([a-z0-9_]+)\]")


def _printable(text: str) -> bool:
    return all(c.isprintable() or c in "\r\n\t" for c in text)


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def encoded_or_random_rule(
    redact: Callable[[str], str], looks_random: Callable[[str], bool]
) -> Rule:
    """One scan for the two rules that read long runs of letters and digits: base64
    that decodes to a secret (named after what it holds), else a random-looking
    string (``secret``)."""

    def run_kind(run: str) -> str | None:
        if _BASE64_RUN.fullmatch(run):
            found = decoded_kind(run, redact)
            if found is not None:
                return found
        return "secret" if looks_random(run) else None

    # A run's kind depends on the run alone, and an event's ids come back in
    # the keys derived from them (provider_event_id holds the event id,
    # recurrence_key and a source ref the fingerprint): each run of an alert
    # storm's unique ids is judged once, not once per text it is in.
    remembered_kind = functools.lru_cache(maxsize=REMEMBERED_MOST)(run_kind)

    def kind(match: re.Match[str]) -> str | None:
        run = match.group(0)
        return remembered_kind(run) if len(run) <= REMEMBERED_UP_TO else run_kind(run)

    return Rule(
        "encoded_or_random",
        # Starts with its first character and looks behind it afterwards, so that
        # the scan skips non-candidates in C.  A run followed by ".x" or "~x" is
        # part of a host name or a longer token and is left alone.
        re.compile(r"[A-Za-z0-9+/](?<![\w+/=.~\-][A-Za-z0-9+/])[\w+/\-]{13,}+=*+(?![.~][\w])"),
        kind,
    )


def decoded_kind(run: str, redact: Callable[[str], str]) -> str | None:
    """The kind of the first secret in base64 ``run`` decoded, if it is text."""
    if len(run) > _MAX_DECODED_RUN:
        return None
    try:
        text = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not _printable(text):
        return None
    found = _MARKER_KIND.search(redact(text))
    if found:
        return found.group(1)
    if _USER_PASSWORD.fullmatch(text) or '"auths"' in text:
        return "credentials"
    return None


# The entries of the "data:" block of a Kubernetes Secret: every value is a secret
# in base64 whatever it decodes to ("YWRtaW4=" is "admin").
_SECRET_DATA_ENTRY = re.compile(
    r"(?m)^([ \t]+[\"']?[\w.\-]{1,253}+[\"']?[ \t]*+:[ \t]*+[\"']?)(?!\[REDACTED:)"
    r"([A-Za-z0-9+/]{2,}+={0,2})(?=[\"']?[ \t]*+$)"
)


_SECRET_KIND = re.compile(r"kind:[ \t]*+[\"']?secret[\"']?[ \t]*+$", re.IGNORECASE | re.MULTILINE)


def _secret_data_block(match: re.Match[str]) -> str:
    """The entries of a data: block, redacted when the nearest "kind:" line
    above it (within 4 KiB) says Secret."""
    text = match.string
    block = match.group(0)
    kind_at = text.rfind("kind:", max(0, match.start() - 4096), match.start())
    if kind_at == -1 or not _SECRET_KIND.match(text, kind_at):
        return block
    start = match.start("entries") - match.start()
    entries = _SECRET_DATA_ENTRY.sub(
        lambda entry: entry.group(1) + "[REDACTED:secret]", block[start:]
    )
    return block[:start] + entries


SECRET_DATA_RULE = Rule(
    # (string)data: and its indented entries, under "kind: Secret" (checked in
    # _secret_data_block).  Entries are one line each, at most 1,024 of them.
    "kubernetes_secret_data",
    re.compile(
        r"(?m)^[ \t]*+(?:string)?[Dd]ata:[ \t]*+\r?\n"
        r"(?P<entries>(?:[ \t]++[^\r\n]{1,65536}+\r?\n?){1,1024}+)"
    ),
    lambda match: None,
    hints=("secret",),
    fallback=_secret_data_block,
    single_line=False,
)
