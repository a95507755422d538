"""Bearer-token auth (SPEC section 7): keys, roles and project scopes.

Keys live in a JSON file: {"keys": [{"operator_id", "token_sha256", "roles",
"projects"}]}. Only token hashes are stored; a presented token is hashed and
compared with every key in constant time, so timing tells nothing about which
key nearly matched. Tokens are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from server.domain.errors import PermissionDenied, Unauthenticated

ALL_PROJECTS = "*"


class Role(StrEnum):
    INGEST = "ingest"
    OPERATOR = "operator"
    READER = "reader"


class ApiKey(BaseModel):
    operator_id: str
    token_sha256: str
    roles: list[Role]
    projects: list[str] = Field(default_factory=lambda: [ALL_PROJECTS])


class KeyFile(BaseModel):
    keys: list[ApiKey]


class Principal(BaseModel):
    """Who is calling. `auth_method` is "bearer", or "anonymous" for open reads.
    Frozen: one is shared by every call of its key."""

    model_config = ConfigDict(frozen=True)

    operator_id: str
    auth_method: str
    roles: frozenset[Role]
    projects: frozenset[str]

    def may_access(self, project_id: str) -> bool:
        return ALL_PROJECTS in self.projects or project_id in self.projects

    @property
    def all_projects(self) -> bool:
        return ALL_PROJECTS in self.projects


ANONYMOUS_READER = Principal(
    operator_id="anonymous",
    auth_method="anonymous",
    roles=frozenset({Role.READER}),
    projects=frozenset({ALL_PROJECTS}),
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    def __init__(self, keys: Sequence[ApiKey], require_read_auth: bool) -> None:
        # Each key with its digest as _match compares it, made once.
        self._digests = [(key, key.token_sha256.lower().encode()) for key in keys]
        self._require_read_auth = require_read_auth
        # By id(key): the keys live as long as this authenticator.
        self._principals: dict[tuple[int, str], Principal] = {}

    @classmethod
    def from_file(cls, path: Path, require_read_auth: bool) -> Authenticator:
        key_file = KeyFile.model_validate_json(path.read_text())
        return cls(key_file.keys, require_read_auth)

    def _principal_of(self, key: ApiKey, scheme: str) -> Principal:
        """One (frozen) Principal per key and scheme, made on first use: a
        model validated on every call cost a few microseconds each."""
        principal = self._principals.get((id(key), scheme))
        if principal is None:
            principal = self._principals[(id(key), scheme)] = Principal(
                operator_id=key.operator_id,
                auth_method=scheme,
                roles=frozenset(key.roles),
                projects=frozenset(key.projects),
            )
        return principal

    def _match(self, token: str) -> ApiKey | None:
        presented = hash_token(token).encode()
        found: ApiKey | None = None
        for key, digest in self._digests:  # no early exit: every key costs the same
            if hmac.compare_digest(presented, digest):
                found = key
        return found

    def authenticate(
        self, authorization: str | None, role: Role, *, allow_basic: bool = False
    ) -> Principal:
        """The caller for an operation that needs `role`; raises when it may not call.

        `authorization` is the header's value: "Bearer <key>", or with
        `allow_basic` (the HTTP webhooks: Alertmanager's and SigNoz's senders
        can send Basic auth) "Basic base64(<any user>:<key>)". Role reader is
        implied by any key, and open to anonymous callers unless reads require auth.
        """
        if authorization is None and role is Role.READER and not self._require_read_auth:
            return ANONYMOUS_READER
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and allow_basic:
            token = _basic_password(credentials)
        elif scheme == "bearer":
            token = credentials.strip()
        else:
            token = ""
        if not token:
            expected = "a bearer token or basic auth" if allow_basic else "a bearer token"
            raise Unauthenticated(f"missing {expected}", "TOKEN_MISSING")
        key = self._match(token)
        if key is None:
            raise Unauthenticated("unknown token", "TOKEN_UNKNOWN")
        principal = self._principal_of(key, scheme)
        if role is not Role.READER and role not in principal.roles:
            raise PermissionDenied(f"this key lacks the role {role.value}", "ROLE_MISSING")
        return principal


def _basic_password(credentials: str) -> str:
    """The password of HTTP Basic credentials (RFC 7617); "" when they are not
    valid base64 of "user:password". The user name is not checked: the key is
    the password, as Alertmanager's `basic_auth` and SigNoz send it."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    _, colon, password = decoded.partition(":")
    return password if colon else ""


def require_project(principal: Principal, project_id: str) -> None:
    """Raises unless the principal may touch `project_id` ("" = all projects)."""
    if project_id == "":
        if not principal.all_projects:
            raise PermissionDenied(
                "this key is scoped to projects: name project_id", "PROJECT_REQUIRED"
            )
        return
    if not principal.may_access(project_id):
        raise PermissionDenied("this key may not access this project", "PROJECT_FORBIDDEN")


def ensure_dev_key_file(data_dir: Path) -> tuple[Path, str]:
    """Makes data_dir/dev-auth.json with one all-role key, for a first `make run`.

    The key file holds only the token's hash; the token itself is kept beside it
    in dev-token (mode 600) so that every start can print it again.
    """
    key_path, token_path = data_dir / "dev-auth.json", data_dir / "dev-token"
    if key_path.exists() and token_path.exists():
        return key_path, token_path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    key = ApiKey(
        operator_id="dev",
        token_sha256=hash_token(token),
        roles=[Role.INGEST, Role.OPERATOR, Role.READER],
        projects=[ALL_PROJECTS],
    )
    token_path.write_text(token + "\n")
    token_path.chmod(0o600)
    key_path.write_text(json.dumps({"keys": [key.model_dump(mode="json")]}, indent=2) + "\n")
    key_path.chmod(0o600)
    return key_path, token
