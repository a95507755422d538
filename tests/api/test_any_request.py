"""Any request at all (SPEC sections 1, 2, 2b, 3, 4, 5, 7): every RPC answers
every request it can be sent with a defined status, and the server keeps
serving.

Property-based: hypothesis draws request messages for each of the thirteen
RPCs. Each request is a sensible one in which a few fields (none to three,
named in the report as "odd fields") hold what a broken client or an attacker
may send: NUL and other control characters, U+2028, U+FFFD, emoji, strings of
up to ~70,000 characters, ids that look right and ids that do not, page tokens
and cursors both made up and real (obtained from the server, then forged),
limits over the whole int32 range, Timestamps far outside 0001-9999, enum
numbers the proto does not name, payload Structs with NaN, infinities and deep
nesting, webhook bodies that are JSON only in places. Even the "sensible"
values are unusual where the contract allows it (any Unicode but NUL, texts
of 64 KiB, the first and last valid Timestamps), so that most requests pass
validation and reach derivation, redaction, storage and the readers. Then raw
bytes that are not a valid request at all, sent past the stub's serializer.

Every call is made with a key that has every role (ALL), so that auth does not
hide a bug behind PERMISSION_DENIED. The oracle, for every call:

- the status is one of ALLOWED; never INTERNAL, UNKNOWN, UNAVAILABLE (the
  database is up) or DEADLINE_EXCEEDED (a hang);
- an INVALID_ARGUMENT carries a google.rpc.BadRequest naming at least one field;
- the server logged nothing at ERROR: a caller's request, however odd, is not
  a fault of the server's (what it did log is shown when a check fails);
- afterwards grpc.health.v1 Health/Check("") answers SERVING within 1 s;
- what an accepted write recorded is served back: every read model of its
  project answers OK (to a client with gRPC's default limits), and a watch
  from the cursor before replays exactly the events written.

How hypothesis meets asyncio here: pytest-asyncio (auto mode, this project's
setting) supports `@given` on an `async def` test: it wraps hypothesis' inner
test so that every example runs to completion on the test's own event loop,
the loop on which the `service` fixture started the server and its channel.
That keeps grpc.aio, asyncpg and the server on one loop, exactly as in every
other test of the suite, with no thread or loop of our own (grpc.aio objects
belong to the loop they were made on). The price: the fixture is
function-scoped while hypothesis runs many examples per test, so all the
examples of one test share one server and one database (hence
HealthCheck.function_scoped_fixture is suppressed, on purpose: a server that
must keep serving across every example is the point). A failure that depends
on what earlier examples wrote may be reported as Flaky by hypothesis; its
message still names the call, the status and the request.

ANY_REQUEST_EXAMPLES=10 multiplies the number of examples, to search harder
than the suite's time budget allows.

Nothing here reads files at run time: the webhook shapes below are copied from
the provider samples (tests/samples/).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from awooop.channel_events.v1 import (
    common_pb2,
    dossier_pb2,
    events_pb2,
    work_items_pb2,
)
from google.protobuf import message as protobuf_message
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from tests.harness import ALL, Service, error_details

# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------

Code = grpc.StatusCode

ALLOWED = frozenset(
    {
        Code.OK,
        Code.INVALID_ARGUMENT,
        Code.NOT_FOUND,
        Code.FAILED_PRECONDITION,
        Code.PERMISSION_DENIED,
        Code.UNAUTHENTICATED,
        Code.RESOURCE_EXHAUSTED,
        Code.OUT_OF_RANGE,
    }
)

# Long enough for a request of 70,000-character strings to be redacted and
# stored; a call that takes longer is a hang as far as a caller can tell
# (DEADLINE_EXCEEDED is not in ALLOWED).
CALL_TIMEOUT = 20.0
HEALTH_TIMEOUT = 1.0
# WatchEvents is served by the `fast` fixture: progress every 0.2 s when idle.
WATCH_READ_TIMEOUT = 3.0
WATCH_MESSAGES = 2


class ServerErrors(logging.Handler):
    """Collects what is logged at ERROR or above, tracebacks included."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def take(self) -> str:
        text, self.lines = "\n".join(self.lines), []
        return text


@pytest.fixture
def server_errors() -> Any:
    handler = ServerErrors()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def _summary(request: object, limit: int = 800) -> str:
    text = request[:limit].hex() if isinstance(request, bytes) else repr(request)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_error(method: str, error: grpc.aio.AioRpcError, request: object, logged: str) -> Code:
    """Asserts that a failed call failed with a defined status; returns the code."""
    code = error.code()
    assert code in ALLOWED, (
        f"{method} answered {code.name}: {error.details()!r}\n"
        f"request: {_summary(request)}\nserver logged:\n{logged or '(nothing)'}"
    )
    if code == Code.INVALID_ARGUMENT:
        bad_request, _ = error_details(error)
        assert bad_request is not None, (
            f"{method} answered INVALID_ARGUMENT {error.details()!r} without a BadRequest"
        )
        assert [v.field for v in bad_request.field_violations if v.field], (
            f"{method} answered INVALID_ARGUMENT {error.details()!r}, "
            f"its BadRequest names no field: {bad_request}"
        )
    return code


async def unary_answer(
    method: str, call: Awaitable[Any], request: object, errors: ServerErrors
) -> tuple[Code, Any]:
    """The status of a unary call, asserted to be a defined one, and the response."""
    try:
        response = await call
    except grpc.aio.AioRpcError as error:
        return check_error(method, error, request, errors.take()), None
    return Code.OK, response


async def stream_answer(
    method: str, call: Any, request: object, errors: ServerErrors
) -> Code:
    """Reads the first messages of a WatchEvents stream, then cancels it.

    The stream must say something within WATCH_READ_TIMEOUT: an event, a
    progress message, or a status."""
    try:
        for _ in range(WATCH_MESSAGES):
            try:
                message = await asyncio.wait_for(call.read(), WATCH_READ_TIMEOUT)
            except TimeoutError:
                pytest.fail(
                    f"{method} sent no message and no status within {WATCH_READ_TIMEOUT} s\n"
                    f"request: {_summary(request)}\nserver logged:\n{errors.take() or '(nothing)'}"
                )
            if message is grpc.aio.EOF:
                break
    except grpc.aio.AioRpcError as error:
        return check_error(method, error, request, errors.take())
    finally:
        call.cancel()
    return Code.OK


async def assert_still_serving(service: Service, method: str, code: Code, errors: ServerErrors) -> None:
    health = health_pb2_grpc.HealthStub(service.channel)
    try:
        response = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT)
    except grpc.aio.AioRpcError as error:
        pytest.fail(
            f"after {method} answered {code.name}, the health check failed: "
            f"{error.code().name} {error.details()!r}\nserver logged:\n{errors.take() or '(nothing)'}"
        )
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    logged = errors.take()
    assert not logged, f"{method} answered {code.name}, and the server logged at ERROR:\n{logged}"


async def assert_reads_serve(
    service: Service, errors: ServerErrors, after: str, reads: list[tuple[str, Any, Any]]
) -> None:
    """After `after` was accepted, what it wrote is served: each of `reads`
    (name, stub method, request) answers OK. A request the server accepts but
    then cannot serve would break every reader of the dossier, not just its caller."""
    for name, call, request in reads:
        try:
            await call(request, metadata=ALL, timeout=CALL_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            await asyncio.sleep(0.2)  # what the server logs about it comes a moment later
            pytest.fail(
                f"{after} was accepted, then {name} answered {error.code().name}: {error.details()!r}\n"
                f"read: {_summary(request)}\nserver logged:\n{errors.take() or '(nothing)'}"
            )


async def assert_watch_replays(
    service: Service, errors: ServerErrors, after: str, after_cursor: str, event_ids: list[str]
) -> None:
    """A watch from `after_cursor` (the last event written before) replays
    exactly the events `after` wrote, in order (SPEC section 5)."""
    request = events_pb2.WatchEventsRequest(after_cursor=after_cursor)
    call = service.events.WatchEvents(request, metadata=ALL, timeout=CALL_TIMEOUT)
    replayed: list[str] = []
    try:
        while len(replayed) < len(event_ids):
            message = await asyncio.wait_for(call.read(), WATCH_READ_TIMEOUT)
            if message is grpc.aio.EOF:
                break
            if message.HasField("event"):
                replayed.append(message.event.event_id)
    except TimeoutError:
        pass
    except grpc.aio.AioRpcError as error:
        pytest.fail(
            f"{after} was accepted, then WatchEvents after {after_cursor!r} answered "
            f"{error.code().name}: {error.details()!r}\nserver logged:\n{errors.take() or '(nothing)'}"
        )
    finally:
        call.cancel()
    assert replayed == event_ids, (
        f"{after} was accepted, then WatchEvents after {after_cursor!r} replayed {replayed}, "
        f"not the events written: {event_ids}\nserver logged:\n{errors.take() or '(nothing)'}"
    )


def project_reads(service: Service, project_id: str) -> list[tuple[str, Any, Any]]:
    """Every read model of one project."""
    return [
        ("ListRecentEvents", service.events.ListRecentEvents,
         events_pb2.ListRecentEventsRequest(project_id=project_id, limit=100)),
        ("GetEventDossier", service.dossier.GetEventDossier,
         dossier_pb2.GetEventDossierRequest(project_id=project_id, limit=50)),
        ("GetDossierCoverage", service.dossier.GetDossierCoverage,
         dossier_pb2.GetDossierCoverageRequest(project_id=project_id, limit=200)),
        ("GetDossierRecurrence", service.dossier.GetDossierRecurrence,
         dossier_pb2.GetDossierRecurrenceRequest(project_id=project_id, limit=300)),
    ]


async def assert_work_item_history_serves(service: Service, errors: ServerErrors, after: str, request: Any) -> None:
    """A recorded dry-run or handoff is served by the history and the recurrence read model."""
    await assert_reads_serve(
        service, errors, after,
        [
            ("ListWorkItemHistory", service.work_items.ListWorkItemHistory,
             work_items_pb2.ListWorkItemHistoryRequest(work_item_id=request.work_item_id, project_id=request.project_id)),
            ("GetDossierRecurrence", service.dossier.GetDossierRecurrence,
             dossier_pb2.GetDossierRecurrenceRequest(project_id=request.project_id, limit=300)),
        ],
    )


# ---------------------------------------------------------------------------
# Real ids, cursors and tokens, obtained from the server once per service
# ---------------------------------------------------------------------------

SEED_PROJECT = "alpha"


@dataclass
class Seeds:
    event_ids: list[str] = field(default_factory=list)
    provider_event_ids: list[str] = field(default_factory=list)
    cursors: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    work_item_ids: list[str] = field(default_factory=list)
    # Made for ListRecentEvents / GetEventDossier with project_id=SEED_PROJECT.
    list_page_token: str = ""
    dossier_page_token: str = ""


_seeds: dict[str, Seeds] = {}


async def seeds_of(service: Service) -> Seeds:
    """Writes a few events, a run and a dry-run through the API, and keeps
    what the server answered; once per service (keyed by its database)."""
    if service.dsn in _seeds:
        return _seeds[service.dsn]
    seeds = Seeds()

    async def record(**fields: Any) -> None:
        fields.setdefault("project_id", SEED_PROJECT)
        response = await service.events.RecordAlertEvent(
            events_pb2.RecordAlertEventRequest(**fields), metadata=ALL
        )
        seeds.event_ids.append(response.event_id)
        seeds.provider_event_ids.append(response.provider_event_id)
        seeds.cursors.append(response.cursor)

    # An automation_gap group: the same fingerprint three times, no run.
    for n in range(3):
        await record(
            provider="alertmanager", event_id=f"seed-{n}", title="HighPodMemory",
            fingerprint="f74798f72524fe89", labels={"alertname": "HighPodMemory"},
        )
    # A manual_gate group: a run waiting for approval.
    await record(provider="sentry", event_id="e4874d664c3540c1a32eab185f12c5ab", title="ReferenceError")
    await record(provider="signoz", event_id="seed-signoz", labels={"ruleId": "42"})
    run_id = str(uuid.uuid4())
    await service.events.RecordRun(
        events_pb2.RecordRunRequest(
            run_id=run_id, project_id=SEED_PROJECT, event_ids=[seeds.event_ids[3]],
            state=common_pb2.RUN_STATE_WAITING_APPROVAL,
        ),
        metadata=ALL,
    )
    seeds.run_ids.append(run_id)
    recurrence = await service.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(project_id=SEED_PROJECT), metadata=ALL
    )
    seeds.work_item_ids = [g.work_item.work_item_id for g in recurrence.items if g.HasField("work_item")]
    assert seeds.work_item_ids, "the seed events make no work item"
    # A dry-run, so that a HandoffWorkItem can get as far as recording a handoff.
    await service.work_items.DryRunWorkItem(
        work_items_pb2.DryRunWorkItemRequest(work_item_id=seeds.work_item_ids[0], project_id=SEED_PROJECT),
        metadata=ALL,
    )
    listed = await service.events.ListRecentEvents(
        events_pb2.ListRecentEventsRequest(project_id=SEED_PROJECT, limit=1), metadata=ALL
    )
    seeds.list_page_token = listed.next_page_token
    dossier = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(project_id=SEED_PROJECT, limit=1), metadata=ALL
    )
    seeds.dossier_page_token = dossier.next_page_token
    assert seeds.list_page_token and seeds.dossier_page_token
    _seeds[service.dsn] = seeds
    return seeds


# ---------------------------------------------------------------------------
# Requests: a sensible value for every field, an odd one for a few
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """What a field of a request may hold: `good` values a careful client
    sends (unusual ones included), and `odd` ones it should not."""

    good: st.SearchStrategy[Any]
    odd: st.SearchStrategy[Any]


# A drawn value of None leaves the field unset (absent, for `optional` fields).
UNSET = st.none()
MAX_ODD_FIELDS = 3


def requests(
    message: type[protobuf_message.Message],
    fields: dict[str, Field],
    struct_fields: frozenset[str] = frozenset(),
) -> st.SearchStrategy[Any]:
    """`message`s whose fields are good but for up to MAX_ODD_FIELDS odd ones.
    Shrinks towards fewer odd fields, so a minimal failing example names its
    culprits (hypothesis shows them as a note). Fields in `struct_fields` are
    google.protobuf.Struct, drawn as dicts and written in place: the protobuf
    runtime refuses to copy one deeper than its own limit."""
    names = sorted(fields)

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        # A third of the requests are good throughout, a third have one odd
        # field (which then meets no other error first), a third have several.
        odd = draw(
            st.one_of(
                st.just(frozenset()),
                st.sampled_from(names).map(lambda name: frozenset([name])),
                st.frozensets(st.sampled_from(names), min_size=2, max_size=MAX_ODD_FIELDS),
            ),
            label="odd fields",
        )
        note(f"odd fields: {sorted(odd) or 'none'}")
        values = {
            name: draw(spec.odd if name in odd else spec.good, label=name)
            for name, spec in fields.items()
        }
        request = message(**{k: v for k, v in values.items() if v is not None and k not in struct_fields})
        for name in struct_fields:
            if values[name] is not None:
                getattr(request, name).update(values[name])
        return request

    return build()


# --- text ---------------------------------------------------------------

SPECIAL_STRINGS = [
    "",
    "\u2028",
    "\u2029",
    "\ufffd",
    "\ufeff",
    "\u200b",
    "\U0001f600",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0010ffff",
    "\x1b[31mred\x1b[0m",
    "\r\n",
    "\t",
    "\x7f",
    "\x85",
    " ",
    "\\",
    '"',
    "'; DROP TABLE events; --",
    "%s%n%x",
    "${jndi:ldap://x/a}",
    "null",
    "NaN",
    "password=hunter2",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "postgres://user:s3cret@db:5432/x",
]
NUL_STRINGS = ["\x00", "a\x00b", "\x00\x00\x00", "\x00" * 1000]

# Around MAX_FIELD (64 KiB) of the validation, and up to ~70,000.
GOOD_LONG_LENGTHS = st.one_of(st.sampled_from([1_000, 65_535, 65_536]), st.integers(200, 65_536))
ODD_LONG_LENGTHS = st.one_of(st.sampled_from([65_537, 70_000]), st.integers(65_537, 70_000))
# "password=x " grows 2.6 times when redacted.
LONG_UNITS = ["a", "\xe9", "\U0001f600", "ab\u2028", "token=abc123 ", "password=x ", "\ufffd", "\x01"]


def _repeat(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def texts(max_size: int = 40, nul: bool = False, long: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[str]:
    """Valid UTF-8 (protobuf strings must be), with the odd cases made likely:
    control characters, line and paragraph separators, emoji; NUL only when
    `nul`; strings of `long` lengths besides the short ones."""
    lowest = 0 if nul else 1
    options = [
        st.text(alphabet=st.characters(codec="utf-8", min_codepoint=lowest), max_size=max_size),
        st.sampled_from(SPECIAL_STRINGS),
        st.text(
            alphabet=st.characters(codec="utf-8", min_codepoint=lowest, max_codepoint=0x1F)
            | st.sampled_from(["\x7f", "\x85", "\u2028", "\u2029", "\ufffd", "\ufeff", "\U0001f600"]),
            min_size=1,
            max_size=max_size,
        ),
    ]
    if nul:
        options.append(st.sampled_from(NUL_STRINGS))
        options.append(st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=8), st.text(max_size=8)))
        options.append(st.builds(_repeat, st.just("\x00"), GOOD_LONG_LENGTHS))
    if long is not None:
        options.append(st.builds(_repeat, st.sampled_from(LONG_UNITS), long))
    return st.one_of(*options)


GOOD_TEXT = texts(long=GOOD_LONG_LENGTHS)
ODD_TEXT = texts(nul=True, long=ODD_LONG_LENGTHS)
SHORT_GOOD_TEXT = texts(20)
SHORT_ODD_TEXT = texts(20, nul=True)


def text_field(good: st.SearchStrategy[str] = GOOD_TEXT) -> Field:
    return Field(good, ODD_TEXT)


# --- ids ----------------------------------------------------------------

GOOD_PROJECT_IDS = st.one_of(
    st.just(SEED_PROJECT),
    st.sampled_from(["beta", "A.b-c_9", "x" * 64, "-", "..", "_"]),
    st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
)
ODD_PROJECT_IDS = st.one_of(
    st.sampled_from(["", "x" * 65, " alpha", "alpha ", "alpha\x00", "*", "../etc", "alpha/beta", "\u0430lpha"]),
    ODD_TEXT,
)
PROJECT_ID = Field(GOOD_PROJECT_IDS, ODD_PROJECT_IDS)
# Readers: empty means every project the caller may read.
FILTER_PROJECT_ID = Field(st.one_of(st.just(""), GOOD_PROJECT_IDS), ODD_PROJECT_IDS)

KNOWN_PROVIDERS = ["alertmanager", "sentry", "signoz"]
GOOD_PROVIDERS = st.one_of(st.sampled_from(KNOWN_PROVIDERS), st.from_regex(r"[a-z0-9_-]{1,32}", fullmatch=True))
ODD_PROVIDERS = st.one_of(
    st.sampled_from(["", "Sentry", "SIGNOZ", "a" * 33, "alert manager", "sentry\x00", "sentry "]), ODD_TEXT
)
PROVIDER = Field(GOOD_PROVIDERS, ODD_PROVIDERS)
FILTER_PROVIDER = Field(st.one_of(st.just(""), GOOD_PROVIDERS), ODD_PROVIDERS)

PROVIDER_EVENT_ID = Field(
    st.one_of(
        st.from_regex(r"[A-Za-z0-9:._-]{1,40}", fullmatch=True),
        st.sampled_from(["f74798f72524fe89:2022-07-26T19:55:58.97Z", "x" * 256, "heartbeat-20240101T000000Z"]),
        texts(max_size=40).filter(bool),
    ),
    st.one_of(st.sampled_from(["", "x" * 257]), ODD_TEXT),
)


def odd_uuids() -> st.SearchStrategy[str]:
    return st.one_of(
        st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: u.hex),
        st.uuids().map(lambda u: f"{{{u}}}"),
        st.uuids().map(lambda u: u.urn),
        st.uuids().map(lambda u: f" {u} "),
        st.uuids().map(lambda u: f"{u}\x00"),
        st.sampled_from(
            [
                "not-a-uuid",
                "123",
                "g" * 8 + "-0000-0000-0000-" + "0" * 12,
                "0" * 35,
                "0" * 37,
                "00000000-0000-0000-0000-00000000000",
            ]
        ),
        ODD_TEXT,
    )


def good_uuids(real: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(real),
        st.uuids().map(str),
        st.sampled_from(["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"]),
    )


# --- numbers, times, enums ----------------------------------------------


def limit_field(maximum: int) -> Field:
    return Field(
        st.one_of(st.just(0), st.just(maximum), st.integers(0, maximum)),
        st.one_of(
            st.sampled_from([-1, maximum + 1, 2**31 - 1, -(2**31)]),
            st.integers(-(2**31), -1),
            st.integers(maximum + 1, 2**31 - 1),
        ),
    )


# 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z: the valid extremes.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799

GOOD_TIMESTAMPS = st.one_of(
    UNSET,
    st.builds(
        timestamp_pb2.Timestamp,
        seconds=st.sampled_from([MIN_TIMESTAMP_SECONDS, MAX_TIMESTAMP_SECONDS, 0, -1, 1_658_865_358]),
        nanos=st.sampled_from([0, 1, 999_999_999, 999_999]),
    ),
    st.builds(
        timestamp_pb2.Timestamp,
        seconds=st.integers(MIN_TIMESTAMP_SECONDS, MAX_TIMESTAMP_SECONDS),
        nanos=st.integers(0, 999_999_999),
    ),
)
ODD_TIMESTAMPS = st.one_of(
    st.builds(
        timestamp_pb2.Timestamp,
        seconds=st.sampled_from(
            [MIN_TIMESTAMP_SECONDS - 1, MAX_TIMESTAMP_SECONDS + 1, -(2**40), 2**40, 2**31, -(2**31) - 1, 0]
        ),
        nanos=st.sampled_from([0, 1_000_000_000, -1, 2**31 - 1, -(2**31), 999_999_999]),
    ),
    st.builds(
        timestamp_pb2.Timestamp,
        seconds=st.integers(-(2**40), 2**40),
        nanos=st.integers(-(2**31), 2**31 - 1),
    ),
)
TIMESTAMP = Field(GOOD_TIMESTAMPS, ODD_TIMESTAMPS)


def enum_field(enum: Any) -> Field:
    """The enum's named numbers, and numbers it does not name (proto3 enums are open)."""
    named = list(enum.values())
    return Field(
        st.sampled_from(named),
        st.one_of(
            st.sampled_from([max(named) + 1, 99, -1, 2**31 - 1, -(2**31)]),
            st.integers(-(2**31), 2**31 - 1),
        ),
    )


# --- maps, refs, JSON ---------------------------------------------------

MEANINGFUL_KEYS = [
    "alertname", "severity", "namespace", "pod", "deployment", "instance", "summary",
    "description", "trace_id", "traceId", "span_id", "spanId", "request_id", "requestId",
    "sentry_issue_id", "sentry_event_id", "signoz_rule_id", "signoz_alert_id", "ruleId",
    "password", "authorization", "cookie", "email", "ip_address", "http.method",
]


def string_maps(keys: st.SearchStrategy[str], values: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(keys, values, max_size=5)


GOOD_MAPS = string_maps(st.one_of(st.sampled_from(MEANINGFUL_KEYS), SHORT_GOOD_TEXT), GOOD_TEXT)
ODD_MAPS = st.one_of(
    string_maps(SHORT_ODD_TEXT, GOOD_TEXT),
    string_maps(st.sampled_from(MEANINGFUL_KEYS), ODD_TEXT),
    st.builds(lambda n: {f"k{i}": "v" for i in range(n)}, st.sampled_from([1_000, 20_000])),
    # Many values of the longest length allowed: a request near 2 MiB.
    st.builds(
        lambda n, unit: {f"a{i:02d}": _repeat(unit, 65_536) for i in range(n)},
        st.sampled_from([8, 16, 28]),
        st.sampled_from(LONG_UNITS),
    ),
)
STRING_MAP = Field(GOOD_MAPS, ODD_MAPS)

REF_SYSTEMS = st.sampled_from(["sentry", "signoz", "alert"])
REF_KINDS = st.sampled_from(["event", "issue", "rule", "alert", "fingerprint", "alertname"])


def source_refs(text: st.SearchStrategy[str]) -> st.SearchStrategy[list[common_pb2.SourceRef]]:
    return st.lists(
        st.builds(
            common_pb2.SourceRef,
            system=st.one_of(REF_SYSTEMS, text),
            kind=st.one_of(REF_KINDS, text),
            id=text,
            url=text,
        ),
        max_size=4,
    )


SOURCE_REFS = Field(
    source_refs(SHORT_GOOD_TEXT),
    st.one_of(
        source_refs(ODD_TEXT),
        st.builds(
            lambda n: [common_pb2.SourceRef(system="alert", kind="rule", id=str(i)) for i in range(n)],
            st.sampled_from([1_000, 10_000]),
        ),
    ),
)

GOOD_NUMBERS = st.one_of(
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0, 2.0**63]),
)
ODD_NUMBERS = st.sampled_from([float("nan"), float("inf"), float("-inf")])


def json_values(leaf: st.SearchStrategy[Any], key: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=4),
        max_leaves=12,
    )


GOOD_LEAVES = st.one_of(st.none(), st.booleans(), GOOD_NUMBERS, GOOD_TEXT)
GOOD_JSON = json_values(GOOD_LEAVES, SHORT_GOOD_TEXT)


def nest(value: Any, depth: int, shape: str, key: str = "k") -> Any:
    """`value` wrapped `depth` times in objects, arrays, or both in turn."""
    for level in range(depth):
        as_list = shape == "list" or (shape == "mixed" and level % 2)
        value = [value] if as_list else {key: value}
    return value


def deep(leaf: st.SearchStrategy[Any], depths: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.builds(nest, leaf, depths, st.sampled_from(["dict", "list", "mixed"]))


# Structs nest 3 protobuf messages per level (Struct, map entry, Value) and the
# decoder stops at 100: a payload deeper than ~33 levels does not even decode.
PAYLOAD = Field(
    st.one_of(
        UNSET,
        st.dictionaries(SHORT_GOOD_TEXT, GOOD_JSON, max_size=6),
        st.builds(lambda value: {"nested": value}, deep(GOOD_LEAVES, st.integers(1, 20))),
    ),
    st.one_of(
        st.builds(lambda v: {"n": v, "list": [1, v]}, ODD_NUMBERS),
        st.builds(lambda k, v: {k: v}, SHORT_ODD_TEXT, json_values(st.one_of(GOOD_LEAVES, ODD_NUMBERS, ODD_TEXT), SHORT_ODD_TEXT)),
        st.builds(lambda value: {"deep": value}, deep(GOOD_LEAVES, st.integers(20, 60))),
        st.builds(lambda n: {f"k{i}": i for i in range(n)}, st.sampled_from([10_000, 50_000])),
    ),
)


# --- cursors and page tokens, real and forged ---------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _forged_tokens(real: str) -> st.SearchStrategy[str]:
    """`real` with its content changed: the token format as far as it shows
    from outside (url-safe base64 of JSON), holding odd values. Should the
    format change, these are merely garbage, and still must not fail."""
    try:
        document = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    except ValueError:
        return st.just(real[::-1])
    if not isinstance(document, dict) or not document:
        return st.just(real[::-1])
    odd_values = st.one_of(
        st.sampled_from([2**63, -1, 0, 2**63 - 1, 2**64, 10**30, 1.5, 1e400, True, None, "1", [1], {"b": 1}]),
        st.integers(-(2**70), 2**70),
    )
    keys = sorted(document)
    return st.builds(
        lambda key, value: _b64(json.dumps({**document, key: value}).encode()),
        st.sampled_from(keys),
        odd_values,
    ) | st.builds(
        lambda key: _b64(json.dumps({k: v for k, v in document.items() if k != key}).encode()),
        st.sampled_from(keys),
    )


def page_token_field(real: str) -> Field:
    return Field(
        st.one_of(st.just(""), st.just(real)),
        st.one_of(
            _forged_tokens(real),  # twice: the likeliest to get past a decoder
            _forged_tokens(real),
            st.sampled_from([real[:-1], real + "A", real + "=", real + "==", real.upper(), "=" * 4, "!!!!"]),
            st.binary(max_size=40).map(_b64),
            GOOD_JSON.map(lambda v: _b64(json.dumps(v).encode())),
            ODD_TEXT,
        ),
    )


def cursor_field(real: list[str]) -> Field:
    return Field(
        st.one_of(st.just(""), st.sampled_from(real), st.sampled_from(["0" * 16, "0" * 15 + "1"])),
        st.one_of(
            st.sampled_from(real).map(str.upper),
            st.sampled_from(real).map(lambda c: c[:-1]),
            st.sampled_from(real).map(lambda c: c + "0"),
            st.sampled_from(["7" + "f" * 15, "8" + "0" * 15, "f" * 16, "-" + "0" * 15, " " + "0" * 15]),
            st.integers(0, 2**64 - 1).map(lambda n: f"{n:016x}"),
            st.integers(-(2**70), 2**70).map(str),
            ODD_TEXT,
        ),
    )


# ---------------------------------------------------------------------------
# Request strategies, one per RPC
# ---------------------------------------------------------------------------

STAGE = Field(
    st.one_of(UNSET, st.sampled_from(["firing", "resolved", "heartbeat", "acknowledged"]), SHORT_GOOD_TEXT),
    ODD_TEXT,
)
CHANNEL_TYPE = Field(st.one_of(UNSET, st.just("alert"), SHORT_GOOD_TEXT), ODD_TEXT)
FILTER_TEXT = Field(st.one_of(st.just(""), SHORT_GOOD_TEXT), ODD_TEXT)
PROVIDER_PREFIX = Field(
    st.one_of(st.just(""), st.sampled_from(["sentry:", "alertmanager:", "%", "_", "\\", "sentry%", "a_b"]), SHORT_GOOD_TEXT),
    ODD_TEXT,
)

RECORD_ALERT_EVENT_REQUESTS = requests(
    events_pb2.RecordAlertEventRequest,
    {
        "project_id": PROJECT_ID,
        "provider": PROVIDER,
        "event_id": PROVIDER_EVENT_ID,
        "stage": STAGE,
        "title": text_field(),
        "severity": text_field(SHORT_GOOD_TEXT),
        "namespace": text_field(SHORT_GOOD_TEXT),
        "target_resource": text_field(SHORT_GOOD_TEXT),
        "fingerprint": text_field(st.one_of(st.just("f74798f72524fe89"), GOOD_TEXT)),
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "payload": PAYLOAD,
        "source_url": text_field(),
        "provider_ts": TIMESTAMP,
        "channel_type": CHANNEL_TYPE,
        "channel_chat_id": text_field(SHORT_GOOD_TEXT),
        "source_refs": SOURCE_REFS,
    },
    struct_fields=frozenset({"payload"}),
)

OPTIONAL_TEXT = Field(st.one_of(UNSET, GOOD_TEXT), ODD_TEXT)


def record_run_requests(seeds: Seeds) -> st.SearchStrategy[events_pb2.RecordRunRequest]:
    return requests(
        events_pb2.RecordRunRequest,
        {
            "run_id": Field(good_uuids(seeds.run_ids), odd_uuids()),
            "project_id": Field(st.one_of(st.just(SEED_PROJECT), GOOD_PROJECT_IDS), ODD_PROJECT_IDS),
            "event_ids": Field(
                st.lists(good_uuids(seeds.event_ids), max_size=4),
                st.one_of(
                    st.lists(odd_uuids(), min_size=1, max_size=4),
                    st.builds(lambda n: [str(uuid.UUID(int=i)) for i in range(n)], st.sampled_from([1_000, 10_000])),
                ),
            ),
            "state": enum_field(common_pb2.RunState),
            "repair_status": enum_field(common_pb2.RepairStatus),
            "agent_id": OPTIONAL_TEXT,
            "incident_id": OPTIONAL_TEXT,
            "repair_summary": OPTIONAL_TEXT,
        },
    )


RECORD_PROVIDER_HEARTBEAT_REQUESTS = requests(
    events_pb2.RecordProviderHeartbeatRequest,
    {
        "project_id": Field(st.one_of(UNSET, GOOD_PROJECT_IDS), ODD_PROJECT_IDS),
        "providers": Field(
            st.sampled_from([[], ["sentry"], ["signoz"], ["sentry", "signoz"], ["signoz", "sentry"]]),
            st.one_of(
                st.sampled_from([["sentry", "sentry"], ["alertmanager"], ["Sentry"], [""], ["sentry", "signoz", "x"]]),
                st.lists(st.one_of(GOOD_PROVIDERS, ODD_PROVIDERS), min_size=1, max_size=4),
            ),
        ),
        "reason": Field(
            st.one_of(UNSET, texts(40).filter(bool), st.just("x" * 120)),
            st.one_of(st.sampled_from(["", "x" * 121]), ODD_TEXT),
        ),
        "run_ref": Field(
            st.one_of(UNSET, texts(40), st.just("x" * 120)),
            st.one_of(st.just("x" * 121), ODD_TEXT),
        ),
    },
)


def list_recent_events_requests(seeds: Seeds) -> st.SearchStrategy[events_pb2.ListRecentEventsRequest]:
    page_token = page_token_field(seeds.list_page_token)
    # With the filters the real page token was made for, or with any filters.
    with_seed_filters = requests(
        events_pb2.ListRecentEventsRequest,
        {"project_id": Field(st.just(SEED_PROJECT), ODD_PROJECT_IDS), "limit": limit_field(100), "page_token": page_token},
    )
    any_filters = requests(
        events_pb2.ListRecentEventsRequest,
        {
            "project_id": FILTER_PROJECT_ID,
            "channel_type": FILTER_TEXT,
            "provider_prefix": PROVIDER_PREFIX,
            "limit": limit_field(100),
            "page_token": page_token,
        },
    )
    return st.one_of(with_seed_filters, any_filters)


def watch_events_requests(seeds: Seeds) -> st.SearchStrategy[events_pb2.WatchEventsRequest]:
    return requests(
        events_pb2.WatchEventsRequest,
        {
            "project_id": FILTER_PROJECT_ID,
            "channel_type": FILTER_TEXT,
            "provider_prefix": PROVIDER_PREFIX,
            "after_cursor": cursor_field(seeds.cursors),
        },
    )


def get_event_dossier_requests(seeds: Seeds) -> st.SearchStrategy[dossier_pb2.GetEventDossierRequest]:
    page_token = page_token_field(seeds.dossier_page_token)
    with_seed_filters = requests(
        dossier_pb2.GetEventDossierRequest,
        {"project_id": Field(st.just(SEED_PROJECT), ODD_PROJECT_IDS), "limit": limit_field(50), "page_token": page_token},
    )
    any_filters = requests(
        dossier_pb2.GetEventDossierRequest,
        {
            "project_id": FILTER_PROJECT_ID,
            "run_id": Field(st.one_of(st.just(""), good_uuids(seeds.run_ids)), odd_uuids()),
            "provider_event_id": Field(
                st.one_of(st.just(""), st.sampled_from(seeds.provider_event_ids), SHORT_GOOD_TEXT), ODD_TEXT
            ),
            "limit": limit_field(50),
            "page_token": page_token,
        },
    )
    return st.one_of(with_seed_filters, any_filters)


GET_DOSSIER_COVERAGE_REQUESTS = requests(
    dossier_pb2.GetDossierCoverageRequest,
    {"project_id": FILTER_PROJECT_ID, "provider": FILTER_PROVIDER, "limit": limit_field(200)},
)

GET_DOSSIER_RECURRENCE_REQUESTS = requests(
    dossier_pb2.GetDossierRecurrenceRequest,
    {"project_id": FILTER_PROJECT_ID, "provider": FILTER_PROVIDER, "limit": limit_field(300)},
)


def work_item_id_field(seeds: Seeds) -> Field:
    real = st.sampled_from(seeds.work_item_ids)
    return Field(
        st.one_of(real, real, st.from_regex(r"wi-[0-9a-f]{16}", fullmatch=True)),
        st.one_of(
            st.sampled_from(["", "wi-", "wi-" + "0" * 17, "WI-0123456789ABCDEF", "wi-0123456789abcdeg"]),
            ODD_TEXT,
        ),
    )


def work_item_requests(seeds: Seeds, message: Any, **extra: Field) -> st.SearchStrategy[Any]:
    """Preview, dry-run and handoff requests: a work item id plus the read-model filters."""
    return requests(
        message,
        {
            "work_item_id": work_item_id_field(seeds),
            # Good values find the seeded work items: their project (or all), their provider (or all).
            "project_id": Field(st.sampled_from([SEED_PROJECT, ""]), st.one_of(GOOD_PROJECT_IDS, ODD_PROJECT_IDS)),
            "provider": Field(
                st.sampled_from(["", *KNOWN_PROVIDERS]), st.one_of(GOOD_PROVIDERS, ODD_PROVIDERS)
            ),
            "limit": limit_field(300),
            "mode": enum_field(work_items_pb2.WorkItemMode),
            **extra,
        },
    )


def list_work_item_history_requests(seeds: Seeds) -> st.SearchStrategy[work_items_pb2.ListWorkItemHistoryRequest]:
    return requests(
        work_items_pb2.ListWorkItemHistoryRequest,
        {
            "work_item_id": work_item_id_field(seeds),
            "project_id": Field(st.one_of(st.just(SEED_PROJECT), st.just(""), GOOD_PROJECT_IDS), ODD_PROJECT_IDS),
        },
    )


# ---------------------------------------------------------------------------
# Webhook bodies for IngestProviderPayload
# ---------------------------------------------------------------------------

# Copied from tests/samples/alertmanager_firing_single_highpodmemory.json.
ALERTMANAGER_ALERT: dict[str, Any] = {
    "status": "firing",
    "labels": {"alertname": "HighPodMemory", "severity": "slack"},
    "annotations": {"summary": "HighMemoryUsage"},
    "startsAt": "2022-07-26T19:55:58.97Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "generatorURL": "http://prometheus-deployment-87cc8fb88-4kgsr:9090/graph?g0.expr=sum%28container_memory_usage_bytes%29+%3E+1",
    "fingerprint": "f74798f72524fe89",
}
ALERTMANAGER_WEBHOOK: dict[str, Any] = {
    "receiver": "webhook",
    "status": "firing",
    "alerts": [ALERTMANAGER_ALERT],
    "groupLabels": {"alertname": "HighPodMemory"},
    "commonLabels": {"alertname": "HighPodMemory", "severity": "slack"},
    "commonAnnotations": {"summary": "HighMemoryUsage"},
    "externalURL": "http://alertmanager-78dfd7464f-tdfv9:9093",
    "version": "4",
    "groupKey": '{}/{}:{alertname="HighPodMemory"}',
    "truncatedAlerts": 0,
}

# Cut down from tests/samples/sentry_event_alert_triggered.json.
SENTRY_EVENT: dict[str, Any] = {
    "event_id": "e4874d664c3540c1a32eab185f12c5ab",
    "issue_id": "1117540176",
    "title": "ReferenceError: heck is not defined",
    "level": "error",
    "culprit": "?(runner)",
    "tags": [["browser", "Chrome 75.0.3770"], ["handled", "no"], ["user", "ip:162.217.75.90"]],
    "web_url": "https://sentry.io/organizations/test-org/issues/1117540176/events/e4874d664c3540c1a32eab185f12c5ab/",
    "datetime": "2019-08-19T21:06:17.677000Z",
    "timestamp": 1566248777.677,
}
SENTRY_EVENT_ALERT_DATA: dict[str, Any] = {"event": SENTRY_EVENT, "triggered_rule": "Very Important Alert Rule!"}
SENTRY_EVENT_ALERT: dict[str, Any] = {
    "action": "triggered",
    "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
    "data": SENTRY_EVENT_ALERT_DATA,
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
}
# Cut down from tests/samples/sentry_issue_created.json.
SENTRY_ISSUE: dict[str, Any] = {
    "id": "1170820242",
    "title": "ReferenceError: blooopy is not defined",
    "level": "error",
    "status": "unresolved",
    "substatus": "escalating",
    "platform": "javascript",
    "shortId": "FRONT-END-9",
    "culprit": "?(runner)",
    "permalink": None,
    "count": "1",
    "firstSeen": "2019-08-19T20:58:37.391000Z",
    "lastSeen": "2019-08-19T20:58:37.391000Z",
}
SENTRY_ISSUE_CREATED: dict[str, Any] = {
    "action": "created",
    "actor": {"id": "sentry", "name": "Sentry", "type": "application"},
    "data": {"issue": SENTRY_ISSUE},
    "installation": {"uuid": "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"},
}
# Sentry's metric alert webhook, as its documentation describes it.
SENTRY_METRIC_ALERT_RULE: dict[str, Any] = {
    "id": "321",
    "title": "p95 latency",
    "alert_rule": {"id": "7", "name": "p95 latency above 2s"},
    "date_detected": "2024-01-01T00:00:00Z",
}
SENTRY_METRIC_ALERT_DATA: dict[str, Any] = {
    "metric_alert": SENTRY_METRIC_ALERT_RULE,
    "description_title": "Critical: p95 latency",
    "description_text": "1.5s in the last 10 minutes",
    "web_url": "https://sentry.io/organizations/test-org/alerts/rules/details/7/",
}
SENTRY_METRIC_ALERT: dict[str, Any] = {"action": "critical", "data": SENTRY_METRIC_ALERT_DATA}


@dataclass(frozen=True)
class RawJson:
    """JSON text written into a body verbatim: what json.dumps cannot or will
    not produce (1e400, 5000-digit integers, lone surrogate escapes, invalid
    UTF-8)."""

    text: bytes

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:60] + b"..."
        return f"RawJson({shown!r}, {len(self.text)} bytes)"


RAW_NUMBERS = [
    b"1e400", b"-1e400", b"1e-400", b"-0", b"1E+2", b"0.0000000000000000000001",
    b"1" + b"0" * 5000, b"-" + b"9" * 5000, b"18446744073709551616", b"-9223372036854775809",
    b"NaN", b"Infinity", b"-Infinity", b"01", b"1.", b".5", b"+1",
]
RAW_STRINGS = [
    b'"\\u0000"', b'"a\\u0000b"', b'"\\ud800"', b'"\\udfff"', b'"x\\ud800y"', b'"\\ud800\\u0041"',
    b'"\\udc00\\ud800"', b'"\\ud83d\\ude00"', b'"\\u2028"', b'"\xff\xfe"', b'"\xc3\x28"',
    b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"\xc0\x80"', b'"\x00"', b'"\x1f"', b'"\\x41"',
    b'"unterminated', b'"' + b"a" * 70_000 + b'"',
]
RAW_TOKENS = st.sampled_from([RawJson(t) for t in RAW_NUMBERS + RAW_STRINGS])
RAW_KEYS = st.sampled_from([RawJson(t) for t in RAW_STRINGS[:-2]])
RAW_NUMBER_TOKENS = st.sampled_from([RawJson(t) for t in RAW_NUMBERS])


def to_json_bytes(value: Any, ascii_only: bool = True) -> bytes:
    """JSON like json.dumps, but with RawJson tokens written as they are."""
    if isinstance(value, RawJson):
        return value.text
    if isinstance(value, dict):
        return b"{" + b",".join(
            to_json_bytes(k if isinstance(k, RawJson) else str(k), ascii_only) + b":" + to_json_bytes(v, ascii_only)
            for k, v in value.items()
        ) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(to_json_bytes(v, ascii_only) for v in value) + b"]"
    # NaN and Infinity as Python writes them: not JSON, but what a sloppy sender writes.
    return json.dumps(value, ensure_ascii=ascii_only).encode()


# What any field of a webhook may hold instead of what it should.
ODD_JSON = st.one_of(
    RAW_TOKENS,
    json_values(st.one_of(GOOD_LEAVES, ODD_NUMBERS, ODD_TEXT, RAW_TOKENS), st.one_of(SHORT_ODD_TEXT, RAW_KEYS)),
    deep(GOOD_LEAVES, st.sampled_from([63, 64, 65, 100, 150, 200])),
    st.builds(lambda value: {"a": value, "b": [value]}, RAW_TOKENS),
)

REMOVED = object()  # a key the document does not have


# A value of the wrong type: what a parser that expects an object, a list or
# a string trips over first.
WRONG_TYPES = st.sampled_from([None, 0, -1.5, True, "", "x", [], [None], {}])


def document_field(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any] | None = None) -> Field:
    """A field of a webhook document: `good`, or missing, or of the wrong
    type, or anything at all."""
    odd_values = [WRONG_TYPES, st.just(REMOVED), ODD_JSON, GOOD_JSON]
    return Field(good, st.one_of(*([odd] if odd is not None else []), *odd_values))


def documents(base: dict[str, Any], fields: dict[str, Field], odd_keys: int) -> st.SearchStrategy[dict[Any, Any]]:
    """`base` with its fields drawn: good ones but for up to `odd_keys` odd
    ones (a wrong type, a raw JSON token, a missing key, a key it never had)."""
    fields = {**fields, "(unknown key)": Field(st.none(), st.tuples(st.one_of(SHORT_GOOD_TEXT, RAW_KEYS), ODD_JSON))}

    @st.composite
    def build(draw: st.DrawFn) -> dict[Any, Any]:
        odd = draw(st.sets(st.sampled_from(sorted(fields)), min_size=min(odd_keys, 1), max_size=odd_keys), label="odd keys")
        document: dict[Any, Any] = dict(base)
        for name, spec in fields.items():
            if name == "(unknown key)":
                extra = draw(spec.odd) if name in odd else None
                if extra is not None:
                    document[extra[0]] = extra[1]
                continue
            value = draw(spec.odd if name in odd else st.one_of(st.just(base.get(name, REMOVED)), spec.good))
            if value is REMOVED:
                document.pop(name, None)
            else:
                document[name] = value
        return document

    return build()


GOOD_TIME_TEXTS = st.sampled_from(
    [
        "2022-07-26T19:55:58.97Z",
        "2022-04-25T14:35:19.490146+05:30",
        "0001-01-01T00:00:00Z",
        "0001-01-01T01:00:00+01:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T22:59:59-01:00",
        "9999-12-31T23:59:59.999999999Z",
        "2022-07-26T19:55:58.123456789Z",
        "2022-07-26T19:55:58-00:00",
    ]
)
ODD_TIME_TEXTS = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:30:00+01:00",
            "2022-07-26T23:59:60Z",
            "2022-07-26t19:55:58z",
            "9999-12-31T23:59:59-01:00",
            "0000-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "+002022-07-26T19:55:58Z",
            "2022-02-30T00:00:00Z",
            "2022-07-26T25:61:61Z",
            "2022-07-26T19:55:58+24:00",
            "2022-07-26T19:55:58+99:99",
            "2022-07-26T19:55:58.9999999999999999Z",
            "2022-07-26 19:55:58Z",
            "2022-07-26T19:55:58",
            "2022-07-26",
            "1658865358",
            "now",
            "",
        ]
    ),
    ODD_TEXT,
    RAW_NUMBER_TOKENS,
    GOOD_NUMBERS,
)
TIME_FIELD = document_field(GOOD_TIME_TEXTS, ODD_TIME_TEXTS)
SENTRY_TIME_FIELD = document_field(
    st.one_of(GOOD_TIME_TEXTS, st.floats(0, 4e9), st.integers(0, 2**31)),
    st.one_of(ODD_TIME_TEXTS, st.sampled_from([1e20, -1e20, 2**63, float("nan"), float("inf")])),
)
# Shorter than GOOD_TEXT: a body holds many of them, and must stay under 1 MiB.
WEBHOOK_GOOD_TEXT = texts(long=st.integers(200, 5_000))
WEBHOOK_MAP = document_field(
    string_maps(st.one_of(st.sampled_from(MEANINGFUL_KEYS), SHORT_GOOD_TEXT), WEBHOOK_GOOD_TEXT), ODD_MAPS
)
WEBHOOK_TEXT = document_field(WEBHOOK_GOOD_TEXT, ODD_TEXT)
WEBHOOK_ID = document_field(
    st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True), st.integers(0, 2**53)),
    st.one_of(ODD_TEXT, st.integers(-(2**70), 2**70)),
)

def webhook_documents(odd_keys: int) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """Alertmanager and Sentry documents whose every object has up to
    `odd_keys` odd keys (0: every field of every object is good)."""

    def doc(base: dict[str, Any], fields: dict[str, Field]) -> st.SearchStrategy[dict[Any, Any]]:
        return documents(base, fields, odd_keys)

    ALERT_DOCUMENTS = doc(
        ALERTMANAGER_ALERT,
        {
            "status": document_field(st.sampled_from(["firing", "resolved"]), st.sampled_from(["", "FIRING", "pending"])),
            "labels": WEBHOOK_MAP,
            "annotations": WEBHOOK_MAP,
            "startsAt": TIME_FIELD,
            "endsAt": TIME_FIELD,
            "generatorURL": WEBHOOK_TEXT,
            "fingerprint": document_field(st.from_regex(r"[0-9a-f]{16}", fullmatch=True), ODD_TEXT),
        },
    )

    ALERTMANAGER_DOCUMENTS = doc(
        ALERTMANAGER_WEBHOOK,
        {
            "alerts": document_field(
                st.lists(ALERT_DOCUMENTS, min_size=1, max_size=3),
                st.one_of(st.just([]), st.builds(lambda n: [ALERTMANAGER_ALERT] * n, st.sampled_from([1_000, 5_000]))),
            ),
            "status": document_field(st.sampled_from(["firing", "resolved"])),
            "receiver": WEBHOOK_TEXT,
            "groupLabels": WEBHOOK_MAP,
            "commonLabels": WEBHOOK_MAP,
            "commonAnnotations": WEBHOOK_MAP,
            "externalURL": WEBHOOK_TEXT,
            "version": document_field(st.sampled_from(["4", "3"])),
            "groupKey": WEBHOOK_TEXT,
            "truncatedAlerts": document_field(st.integers(0, 2**31), st.integers(-(2**70), 2**70)),
        },
    )

    SENTRY_TAGS = document_field(
        st.lists(st.tuples(SHORT_GOOD_TEXT, SHORT_GOOD_TEXT).map(list), max_size=3),
        st.one_of(
            st.lists(st.lists(SHORT_ODD_TEXT, max_size=3), max_size=3),
            st.lists(st.fixed_dictionaries({"key": SHORT_ODD_TEXT, "value": SHORT_ODD_TEXT}), max_size=3),
        ),
    )

    SENTRY_DOCUMENTS = st.one_of(
        doc(
            SENTRY_EVENT_ALERT,
            {
                "action": WEBHOOK_TEXT,
                "data": document_field(
                    doc(
                        SENTRY_EVENT_ALERT_DATA,
                        {
                            "event": document_field(
                                doc(
                                    SENTRY_EVENT,
                                    {
                                        "event_id": document_field(st.uuids().map(lambda u: u.hex), ODD_TEXT),
                                        "issue_id": WEBHOOK_ID,
                                        "title": WEBHOOK_TEXT,
                                        "level": WEBHOOK_TEXT,
                                        "culprit": WEBHOOK_TEXT,
                                        "tags": SENTRY_TAGS,
                                        "web_url": WEBHOOK_TEXT,
                                        "datetime": SENTRY_TIME_FIELD,
                                        "timestamp": SENTRY_TIME_FIELD,
                                    },
                                )
                            ),
                            "triggered_rule": WEBHOOK_TEXT,
                        },
                    )
                ),
            },
        ),
        doc(
            SENTRY_ISSUE_CREATED,
            {
                "action": document_field(st.sampled_from(["created", "resolved", "assigned", "ignored"]), ODD_TEXT),
                "data": document_field(
                    st.builds(
                        lambda issue: {"issue": issue},
                        doc(
                            SENTRY_ISSUE,
                            {
                                "id": WEBHOOK_ID,
                                "title": WEBHOOK_TEXT,
                                "level": WEBHOOK_TEXT,
                                "permalink": WEBHOOK_TEXT,
                                "status": WEBHOOK_TEXT,
                                "shortId": WEBHOOK_TEXT,
                                "firstSeen": SENTRY_TIME_FIELD,
                                "lastSeen": SENTRY_TIME_FIELD,
                            },
                        ),
                    )
                ),
            },
        ),
        doc(
            SENTRY_METRIC_ALERT,
            {
                "action": document_field(st.sampled_from(["critical", "warning", "resolved"]), ODD_TEXT),
                "data": document_field(
                    doc(
                        SENTRY_METRIC_ALERT_DATA,
                        {
                            "metric_alert": document_field(
                                doc(
                                    SENTRY_METRIC_ALERT_RULE,
                                    {
                                        "id": WEBHOOK_ID,
                                        "title": WEBHOOK_TEXT,
                                        "alert_rule": document_field(
                                            st.fixed_dictionaries({"id": st.from_regex(r"[0-9]{1,9}", fullmatch=True), "name": GOOD_TEXT})
                                        ),
                                        "date_detected": SENTRY_TIME_FIELD,
                                    },
                                )
                            ),
                            "description_title": WEBHOOK_TEXT,
                            "description_text": WEBHOOK_TEXT,
                            "web_url": WEBHOOK_TEXT,
                        },
                    )
                ),
            },
        ),
    )
    return ALERTMANAGER_DOCUMENTS, SENTRY_DOCUMENTS


def _truncated(body: bytes, at: int) -> bytes:
    return body[: at % (len(body) + 1)]


def _with_bom(body: bytes) -> bytes:
    return b"\xef\xbb\xbf" + body


def _with_invalid_utf8(body: bytes, at: int) -> bytes:
    # Inside a string literal, if there is one after `at`.
    position = body.find(b'"', at % (len(body) + 1))
    position = position + 1 if position >= 0 else 0
    return body[:position] + b"\xff\xfe\xc3" + body[position:]


def _deep_alerts(depth: int) -> bytes:
    return b'{"alerts":' + b"[" * depth + b"]" * depth + b"}"


def _deep_label(depth: int) -> bytes:
    alert = to_json_bytes({**ALERTMANAGER_ALERT, "labels": RawJson(b'{"a":' * depth + b"1" + b"}" * depth)})
    return b'{"alerts":[' + alert + b"]}"


def _over_one_mib(extra: int) -> bytes:
    return b'{"alerts":[],"padding":"' + b"a" * (1024 * 1024 + extra) + b'"}'


def _encoded(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.builds(to_json_bytes, documents, st.booleans())


GOOD_ALERTMANAGER_BODIES, GOOD_SENTRY_BODIES = map(_encoded, webhook_documents(odd_keys=0))
ODD_ALERTMANAGER_BODIES, ODD_SENTRY_BODIES = map(_encoded, webhook_documents(odd_keys=2))
ODD_BODIES = st.one_of(
    ODD_ALERTMANAGER_BODIES,
    ODD_SENTRY_BODIES,
    st.builds(_truncated, GOOD_ALERTMANAGER_BODIES | GOOD_SENTRY_BODIES, st.integers(0, 10_000)),
    st.builds(_with_bom, GOOD_ALERTMANAGER_BODIES),
    st.builds(_with_invalid_utf8, GOOD_ALERTMANAGER_BODIES | GOOD_SENTRY_BODIES, st.integers(0, 10_000)),
    st.binary(max_size=200),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"alerts"', b"1e400", b'{"alerts":null}', b'{"alerts":{}}']),
    st.builds(_deep_alerts, st.sampled_from([63, 64, 65, 100, 999, 1000, 1001, 5000, 100_000])),
    st.builds(_deep_label, st.sampled_from([63, 64, 65, 100, 1000, 10_000])),
    st.builds(_over_one_mib, st.sampled_from([-100, 0, 1])),
)

SENTRY_RESOURCES = ["event_alert", "issue", "metric_alert"]
ODD_HEADER_NAMES = [
    "sentry-hook-resource", "SENTRY-HOOK-RESOURCE", " Sentry-Hook-Resource", "Sentry-Hook-Resource ",
    "Sentry-Hook-Signature", "Content-Type", "", " ", ":authority", "\x00", "h\u00e9ader", "X" * 1000,
]
HEADERS = Field(
    # Sentry's resource is found from the body's shape when the header is absent.
    st.sampled_from([{}, {"Content-Type": "application/json"}, {"User-Agent": "Alertmanager/0.27.0"}]),
    st.one_of(
        st.sampled_from(SENTRY_RESOURCES).map(lambda r: {"Sentry-Hook-Resource": r}),
        st.dictionaries(
            st.one_of(st.sampled_from(ODD_HEADER_NAMES), SHORT_ODD_TEXT),
            st.one_of(st.sampled_from([*SENTRY_RESOURCES, "installation", "EVENT_ALERT", "", "0" * 64]), ODD_TEXT),
            min_size=1,
            max_size=3,
        ),
        st.builds(lambda n: {f"h{i}": "v" for i in range(n)}, st.sampled_from([1_000, 10_000])),
    ),
)


def ingest_provider_payload_requests(provider: str) -> st.SearchStrategy[events_pb2.IngestProviderPayloadRequest]:
    """Requests for one provider ("(odd)": a provider name that is not one)
    with a body of its shape, or of its shape with odd keys, or hardly JSON."""
    sentry = provider == "sentry"
    odd_shape = ODD_SENTRY_BODIES if sentry else ODD_ALERTMANAGER_BODIES
    shaped = requests(
        events_pb2.IngestProviderPayloadRequest,
        {
            "project_id": PROJECT_ID,
            "body": Field(
                GOOD_SENTRY_BODIES if sentry else GOOD_ALERTMANAGER_BODIES,
                st.one_of(odd_shape, odd_shape, ODD_BODIES, GOOD_ALERTMANAGER_BODIES if sentry else GOOD_SENTRY_BODIES),
            ),
            "headers": HEADERS,
        },
    )
    names = ODD_PROVIDERS if provider == "(odd)" else st.just(provider)
    return st.builds(_with_provider, shaped, names)


def _with_provider(request: events_pb2.IngestProviderPayloadRequest, provider: str) -> events_pb2.IngestProviderPayloadRequest:
    request.provider = provider
    return request


# ---------------------------------------------------------------------------
# The properties, one test per RPC
# ---------------------------------------------------------------------------

EXAMPLES_SCALE = float(os.environ.get("ANY_REQUEST_EXAMPLES", "1"))


def any_request_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, round(examples * EXAMPLES_SCALE)),
        deadline=None,
        # Examples are not written to .hypothesis/ in the checkout.
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one server for every example: on purpose
            HealthCheck.too_slow,  # each example is a network call or two
            HealthCheck.data_too_large,  # 70,000-character strings
            HealthCheck.large_base_example,
        ],
    )


async def assert_defined_answer(
    service: Service,
    errors: ServerErrors,
    method: str,
    call: Callable[..., Awaitable[Any]],
    request: protobuf_message.Message,
) -> tuple[Code, Any]:
    code, response = await unary_answer(method, call(request, metadata=ALL, timeout=CALL_TIMEOUT), request, errors)
    event(code.name)  # pytest --hypothesis-show-statistics: how often each status came
    await assert_still_serving(service, method, code, errors)
    return code, response


async def latest_cursor(service: Service) -> str:
    """The cursor of the last event recorded: a watch from it replays what is
    written next. Asked before each write rather than remembered, so that an
    example that failed half-way does not mislead the next one."""
    recent = await service.events.ListRecentEvents(
        events_pb2.ListRecentEventsRequest(limit=1), metadata=ALL, timeout=CALL_TIMEOUT
    )
    return recent.events[0].cursor if recent.events else ""


async def assert_events_served(
    service: Service, errors: ServerErrors, after: str, project_id: str, recorded: list[Any], before: str
) -> None:
    """Accepted events are served by every reader and replayed by a watch
    from `before`, the latest cursor before they were written."""
    reads = project_reads(service, project_id) + [
        ("GetEventDossier", service.dossier.GetEventDossier,
         dossier_pb2.GetEventDossierRequest(project_id=project_id, provider_event_id=r.provider_event_id))
        for r in recorded[:3]
    ]
    await assert_reads_serve(service, errors, after, reads)
    if recorded and before:
        in_cursor_order = [r.event_id for r in sorted(recorded, key=lambda r: r.cursor)]
        await assert_watch_replays(service, errors, after, before, in_cursor_order)


@pytest.mark.timeout(150)
@any_request_settings(examples=100)
@given(request=RECORD_ALERT_EVENT_REQUESTS)
async def test_record_alert_event_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, request: events_pb2.RecordAlertEventRequest
) -> None:
    await seeds_of(service)
    before = await latest_cursor(service)
    code, response = await assert_defined_answer(
        service, server_errors, "RecordAlertEvent", service.events.RecordAlertEvent, request
    )
    if code == Code.OK:
        await assert_events_served(
            service, server_errors, "RecordAlertEvent", request.project_id, [response], before
        )


_large_events = itertools.count(1)


@pytest.mark.timeout(150)
@any_request_settings(examples=8)
# The largest content a request under 2 MiB carries, of text that redaction
# grows the most: it must be served back (a reader's default limit is 4 MiB).
@example(unit="password=x ", annotations=28)
@given(
    unit=st.sampled_from(["password=x ", "token=abc123 ", "\U0001f600", "a"]),
    annotations=st.integers(1, 31),
)
async def test_the_largest_events_the_service_accepts_are_served_back(
    service: Service, server_errors: ServerErrors, unit: str, annotations: int
) -> None:
    await seeds_of(service)
    longest = _repeat(unit, 65_536)
    request = events_pb2.RecordAlertEventRequest(
        project_id=SEED_PROJECT,
        provider="alertmanager",
        event_id=f"large-{next(_large_events)}",
        title=longest,
        annotations={f"a{i:02d}": longest for i in range(annotations)},
    )
    before = await latest_cursor(service)
    code, response = await assert_defined_answer(
        service, server_errors, "RecordAlertEvent", service.events.RecordAlertEvent, request
    )
    if code == Code.OK:
        await assert_events_served(
            service, server_errors, "RecordAlertEvent", request.project_id, [response], before
        )


@pytest.mark.timeout(150)
@pytest.mark.parametrize("provider", [*KNOWN_PROVIDERS, "(odd)"])
@any_request_settings(examples=60)
@given(data=st.data())
async def test_ingest_provider_payload_answers_any_body_with_a_defined_status(
    service: Service, server_errors: ServerErrors, provider: str, data: st.DataObject
) -> None:
    request = data.draw(ingest_provider_payload_requests(provider), label="request")
    await seeds_of(service)
    before = await latest_cursor(service)
    code, response = await assert_defined_answer(
        service, server_errors, "IngestProviderPayload", service.events.IngestProviderPayload, request
    )
    if code == Code.OK:
        await assert_events_served(
            service, server_errors, "IngestProviderPayload", request.project_id, list(response.events), before
        )


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(data=st.data())
async def test_record_run_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    request = data.draw(record_run_requests(await seeds_of(service)), label="request")
    code, _ = await assert_defined_answer(service, server_errors, "RecordRun", service.events.RecordRun, request)
    if code == Code.OK:
        await assert_reads_serve(
            service, server_errors, "RecordRun",
            [
                *project_reads(service, request.project_id),
                ("GetEventDossier", service.dossier.GetEventDossier,
                 dossier_pb2.GetEventDossierRequest(project_id=request.project_id, run_id=request.run_id)),
            ],
        )


@pytest.mark.timeout(120)
@any_request_settings(examples=40)
@given(request=RECORD_PROVIDER_HEARTBEAT_REQUESTS)
async def test_record_provider_heartbeat_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, request: events_pb2.RecordProviderHeartbeatRequest
) -> None:
    await seeds_of(service)
    code, response = await assert_defined_answer(
        service, server_errors, "RecordProviderHeartbeat", service.events.RecordProviderHeartbeat, request
    )
    if code == Code.OK:
        await assert_reads_serve(
            service, server_errors, "RecordProviderHeartbeat",
            project_reads(service, response.project_id) + [
                ("GetEventDossier", service.dossier.GetEventDossier,
                 dossier_pb2.GetEventDossierRequest(project_id=response.project_id, run_id=item.run_id))
                for item in response.items
            ],
        )


@pytest.mark.timeout(120)
@any_request_settings(examples=80)
@given(data=st.data())
async def test_list_recent_events_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    request = data.draw(list_recent_events_requests(await seeds_of(service)), label="request")
    await assert_defined_answer(service, server_errors, "ListRecentEvents", service.events.ListRecentEvents, request)


@pytest.mark.timeout(150)
@any_request_settings(examples=40)
@given(data=st.data())
async def test_watch_events_answers_any_request_with_a_defined_status(
    fast: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    request = data.draw(watch_events_requests(await seeds_of(fast)), label="request")
    call = fast.events.WatchEvents(request, metadata=ALL, timeout=CALL_TIMEOUT)
    code = await stream_answer("WatchEvents", call, request, server_errors)
    event(code.name)
    await assert_still_serving(fast, "WatchEvents", code, server_errors)


@pytest.mark.timeout(120)
@any_request_settings(examples=80)
@given(data=st.data())
async def test_get_event_dossier_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    request = data.draw(get_event_dossier_requests(await seeds_of(service)), label="request")
    await assert_defined_answer(service, server_errors, "GetEventDossier", service.dossier.GetEventDossier, request)


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(request=GET_DOSSIER_COVERAGE_REQUESTS)
async def test_get_dossier_coverage_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, request: dossier_pb2.GetDossierCoverageRequest
) -> None:
    await seeds_of(service)
    await assert_defined_answer(
        service, server_errors, "GetDossierCoverage", service.dossier.GetDossierCoverage, request
    )


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(request=GET_DOSSIER_RECURRENCE_REQUESTS)
async def test_get_dossier_recurrence_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, request: dossier_pb2.GetDossierRecurrenceRequest
) -> None:
    await seeds_of(service)
    await assert_defined_answer(
        service, server_errors, "GetDossierRecurrence", service.dossier.GetDossierRecurrence, request
    )


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(data=st.data())
async def test_preview_work_item_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    seeds = await seeds_of(service)
    request = data.draw(work_item_requests(seeds, work_items_pb2.PreviewWorkItemRequest), label="request")
    await assert_defined_answer(service, server_errors, "PreviewWorkItem", service.work_items.PreviewWorkItem, request)


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(data=st.data())
async def test_dry_run_work_item_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    seeds = await seeds_of(service)
    request = data.draw(work_item_requests(seeds, work_items_pb2.DryRunWorkItemRequest), label="request")
    code, _ = await assert_defined_answer(service, server_errors, "DryRunWorkItem", service.work_items.DryRunWorkItem, request)
    if code == Code.OK:
        await assert_work_item_history_serves(service, server_errors, "DryRunWorkItem", request)


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(data=st.data())
async def test_handoff_work_item_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    seeds = await seeds_of(service)
    request = data.draw(
        work_item_requests(
            seeds, work_items_pb2.HandoffWorkItemRequest, handoff_kind=enum_field(work_items_pb2.HandoffKind)
        ),
        label="request",
    )
    code, _ = await assert_defined_answer(service, server_errors, "HandoffWorkItem", service.work_items.HandoffWorkItem, request)
    if code == Code.OK:
        await assert_work_item_history_serves(service, server_errors, "HandoffWorkItem", request)


@pytest.mark.timeout(120)
@any_request_settings(examples=60)
@given(data=st.data())
async def test_list_work_item_history_answers_any_request_with_a_defined_status(
    service: Service, server_errors: ServerErrors, data: st.DataObject
) -> None:
    request = data.draw(list_work_item_history_requests(await seeds_of(service)), label="request")
    await assert_defined_answer(
        service, server_errors, "ListWorkItemHistory", service.work_items.ListWorkItemHistory, request
    )


# ---------------------------------------------------------------------------
# Bytes that are not a valid request: sent through a generic channel call
# ---------------------------------------------------------------------------

PACKAGE = "awooop.channel_events.v1"

# Every RPC: its full method name, request type, and whether it streams.
METHODS: dict[str, tuple[str, type[protobuf_message.Message], bool]] = {
    "RecordAlertEvent": (f"/{PACKAGE}.EventService/RecordAlertEvent", events_pb2.RecordAlertEventRequest, False),
    "IngestProviderPayload": (
        f"/{PACKAGE}.EventService/IngestProviderPayload", events_pb2.IngestProviderPayloadRequest, False
    ),
    "RecordRun": (f"/{PACKAGE}.EventService/RecordRun", events_pb2.RecordRunRequest, False),
    "RecordProviderHeartbeat": (
        f"/{PACKAGE}.EventService/RecordProviderHeartbeat", events_pb2.RecordProviderHeartbeatRequest, False
    ),
    "ListRecentEvents": (f"/{PACKAGE}.EventService/ListRecentEvents", events_pb2.ListRecentEventsRequest, False),
    "WatchEvents": (f"/{PACKAGE}.EventService/WatchEvents", events_pb2.WatchEventsRequest, True),
    "GetEventDossier": (f"/{PACKAGE}.DossierService/GetEventDossier", dossier_pb2.GetEventDossierRequest, False),
    "GetDossierCoverage": (
        f"/{PACKAGE}.DossierService/GetDossierCoverage", dossier_pb2.GetDossierCoverageRequest, False
    ),
    "GetDossierRecurrence": (
        f"/{PACKAGE}.DossierService/GetDossierRecurrence", dossier_pb2.GetDossierRecurrenceRequest, False
    ),
    "PreviewWorkItem": (
        f"/{PACKAGE}.WorkItemService/PreviewWorkItem", work_items_pb2.PreviewWorkItemRequest, False
    ),
    "DryRunWorkItem": (f"/{PACKAGE}.WorkItemService/DryRunWorkItem", work_items_pb2.DryRunWorkItemRequest, False),
    "HandoffWorkItem": (
        f"/{PACKAGE}.WorkItemService/HandoffWorkItem", work_items_pb2.HandoffWorkItemRequest, False
    ),
    "ListWorkItemHistory": (
        f"/{PACKAGE}.WorkItemService/ListWorkItemHistory", work_items_pb2.ListWorkItemHistoryRequest, False
    ),
}


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def length_delimited(number: int, payload: bytes) -> bytes:
    """One length-delimited field (a string, bytes, or message) on the wire."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_struct(depth: int) -> bytes:
    """A Struct {"k": {"k": ... {"k": 1} ...}} `depth` levels deep, encoded by hand
    (Struct.fields is field 1, a map entry; Value.struct_value is field 5)."""
    number_value = b"\x11" + b"\x00" * 6 + b"\xf0\x3f"  # Value.number_value (field 1, fixed64): 1.0
    struct = length_delimited(1, length_delimited(1, b"k") + length_delimited(2, number_value))
    for _ in range(depth - 1):
        value = length_delimited(5, struct)
        struct = length_delimited(1, length_delimited(1, b"k") + length_delimited(2, value))
    return struct


VALID_ALERT = (
    length_delimited(1, b"alpha") + length_delimited(2, b"alertmanager") + length_delimited(3, b"evt-raw")
)

# (RPC, what is wrong, the request's bytes). None is a valid message of the
# RPC's request type (asserted below with the protobuf runtime itself), so the
# answer must be INVALID_ARGUMENT naming a field.
UNDECODABLE_REQUESTS: list[tuple[str, str, bytes]] = [
    ("RecordAlertEvent", "project_id is invalid UTF-8",
     length_delimited(1, b"\xff\xfe") + length_delimited(2, b"alertmanager") + length_delimited(3, b"e1")),
    ("RecordAlertEvent", "title is a UTF-8-encoded surrogate",
     VALID_ALERT + length_delimited(5, b"\xed\xa0\x80")),
    ("RecordAlertEvent", "a label key is invalid UTF-8",
     VALID_ALERT + length_delimited(10, length_delimited(1, b"\xc3\x28") + length_delimited(2, b"v"))),
    ("RecordAlertEvent", "an annotation value is invalid UTF-8",
     VALID_ALERT + length_delimited(11, length_delimited(1, b"summary") + length_delimited(2, b"\xf4\x90\x80\x80"))),
    ("RecordAlertEvent", "a source ref id is invalid UTF-8",
     VALID_ALERT + length_delimited(17, length_delimited(1, b"sentry") + length_delimited(3, b"\xc0\x80"))),
    ("RecordAlertEvent", "a payload string value is invalid UTF-8",
     VALID_ALERT + length_delimited(
         12, length_delimited(1, length_delimited(1, b"k") + length_delimited(2, length_delimited(3, b"\xff")))
     )),
    ("RecordAlertEvent", "a payload Struct nested 50 levels deep", VALID_ALERT + length_delimited(12, deep_struct(50))),
    ("RecordAlertEvent", "a payload Struct nested 1000 levels deep", VALID_ALERT + length_delimited(12, deep_struct(1000))),
    ("RecordAlertEvent", "a truncated length-delimited field", b"\x0a\x05al"),
    ("RecordAlertEvent", "a field number 0", b"\x02\x00"),
    ("RecordAlertEvent", "wire type 7", b"\x0f"),
    ("RecordAlertEvent", "a varint of 11 bytes", b"\x20" + b"\x80" * 10 + b"\x01"),
    ("RecordAlertEvent", "a group that never ends", b"\x0b"),
    ("IngestProviderPayload", "a header name is invalid UTF-8",
     length_delimited(1, b"alpha") + length_delimited(2, b"alertmanager") + length_delimited(3, b"{}")
     + length_delimited(4, length_delimited(1, b"\xff") + length_delimited(2, b"issue"))),
    ("RecordRun", "an event id is invalid UTF-8",
     length_delimited(1, str(uuid.uuid4()).encode()) + length_delimited(2, b"alpha") + length_delimited(3, b"\xfe")),
    ("RecordProviderHeartbeat", "a provider is invalid UTF-8", length_delimited(2, b"sentr\xff")),
    ("WatchEvents", "after_cursor is invalid UTF-8", length_delimited(4, b"\xff" * 16)),
    ("ListRecentEvents", "page_token is invalid UTF-8", length_delimited(5, b"\x80abc")),
    ("GetEventDossier", "run_id is invalid UTF-8", length_delimited(2, b"\xc3")),
    ("HandoffWorkItem", "provider is invalid UTF-8", length_delimited(3, b"\xe2\x82")),
] + [
    (name, "field 1 (a string) is invalid UTF-8", length_delimited(1, b"\xff\xfe"))
    for name in METHODS
] + [
    (name, "not protobuf at all", b"\xff" * 11)
    for name in METHODS
]


async def raw_answer(service: Service, errors: ServerErrors, name: str, raw: bytes) -> Code:
    """Sends `raw` as the request of RPC `name`, past the stub's serializer."""
    path, _, streams = METHODS[name]
    if streams:
        stream = service.channel.unary_stream(path, request_serializer=None, response_deserializer=None)
        return await stream_answer(name, stream(raw, metadata=ALL, timeout=CALL_TIMEOUT), raw, errors)
    unary = service.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
    code, _ = await unary_answer(name, unary(raw, metadata=ALL, timeout=CALL_TIMEOUT), raw, errors)
    return code


def is_decodable(name: str, raw: bytes) -> bool:
    try:
        METHODS[name][1].FromString(raw)
    except protobuf_message.DecodeError:
        return False
    return True


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("method", "problem", "raw"),
    UNDECODABLE_REQUESTS,
    ids=[f"{method}: {problem}" for method, problem, _ in UNDECODABLE_REQUESTS],
)
async def test_a_request_that_does_not_decode_is_an_invalid_argument(
    fast: Service, server_errors: ServerErrors, method: str, problem: str, raw: bytes
) -> None:
    assert not is_decodable(method, raw), f"the test case decodes after all: {problem}"
    code = await raw_answer(fast, server_errors, method, raw)
    assert code == Code.INVALID_ARGUMENT, f"{method} with {problem}: {code.name}"
    await assert_still_serving(fast, method, code, server_errors)


def _mutated(valid: bytes, position: int, byte: int) -> bytes:
    position %= len(valid)
    return valid[:position] + bytes([byte]) + valid[position + 1 :]


# Bytes near a real request: valid requests with one byte changed, or cut short.
NEAR_VALID = st.one_of(
    st.builds(_mutated, st.just(VALID_ALERT), st.integers(0, 10_000), st.integers(0, 255)),
    st.builds(_truncated, st.just(VALID_ALERT + length_delimited(12, deep_struct(3))), st.integers(0, 10_000)),
)


@pytest.mark.timeout(120)
@any_request_settings(examples=100)
@given(method=st.sampled_from(sorted(METHODS)), raw=st.one_of(st.binary(max_size=64), NEAR_VALID))
async def test_any_bytes_as_a_request_get_a_defined_status(
    fast: Service, server_errors: ServerErrors, method: str, raw: bytes
) -> None:
    # `fast`: a WatchEvents that decodes must show progress within WATCH_READ_TIMEOUT.
    code = await raw_answer(fast, server_errors, method, raw)
    event(code.name)
    if not is_decodable(method, raw):
        assert code == Code.INVALID_ARGUMENT, f"{method} answered {code.name} to bytes that do not decode"
    await assert_still_serving(fast, method, code, server_errors)
