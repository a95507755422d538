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
import re
from collections.abc import Callable

from server.domain.redaction._common import MARKER_PREFIX, Rule

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

    def kind(match: re.Match[str]) -> str | None:
        run = match.group(0)
        if _BASE64_RUN.fullmatch(run):
            found = decoded_kind(run, redact)
            if found is not None:
                return found
        return "secret" if looks_random(run) else None

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
