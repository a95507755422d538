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


def base64_rule(redact: Callable[[str], str]) -> Rule:
    def kind(match: re.Match[str]) -> str | None:
        run = match.group(0)
        if len(run) > _MAX_DECODED_RUN:
            return None
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4), validate=True)
            text = raw.decode("utf-8")
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

    return Rule(
        "base64",
        # Starts with its first character and looks behind it afterwards, so that
        # the scan skips non-candidates in C.
        re.compile(r"[A-Za-z0-9+/](?<![\w+/=\-][A-Za-z0-9+/])[A-Za-z0-9+/]{15,}+={0,2}(?![\w+/=\-])"),
        kind,
    )
