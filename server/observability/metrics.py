"""The service's metrics, in the Prometheus text format at HTTP `/metrics`.

One `Metrics` per server (its own registry, so that two servers in one test
process keep their own counts). The gRPC ones carry the names every gRPC
dashboard already uses (go-grpc-prometheus / py-grpc-prometheus); the rest
are prefixed `channel_events_`. Every label value is bounded: method and
route names, status codes, provider names the service knows (others are
"other"), stable error reasons and redaction kinds, SQLSTATE classes; never
an id, a cursor, a token or free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from server.domain.providers import PROVIDERS
from server.storage.database import CONNECTION_ERRORS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: from a 1 ms read to a 15 s call timeout.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15)

_MARKER = re.compile(r"\[REDACTED:([a-z0-9_]{1,40})\]")
# Redaction kinds seen as label values, at most this many distinct ones (a
# caller can write "[REDACTED:anything]" in its own text).
_MAX_KINDS = 64
OTHER = "other"


def provider_label(provider: str) -> str:
    return provider if provider in PROVIDERS else OTHER


def sqlstate_class(error: BaseException) -> str | None:
    """The SQLSTATE class of a database error ("08" connection, "57" operator
    intervention, "40" rollback, ...), "connection" for a lost connection
    without one; None when the error is not the database's."""
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(error, asyncpg.PostgresError) and isinstance(sqlstate, str) and sqlstate:
        return sqlstate[:2]
    if isinstance(error, CONNECTION_ERRORS):
        return "connection"
    return None


class _Live(Collector):
    """Values read when Prometheus scrapes: the pool, the watches, the listener."""

    def __init__(self) -> None:
        self.pool: Callable[[], tuple[int, int, int]] | None = None
        # Per transport: streams, behind the hub, catch-up reads, overflows.
        self.watches: dict[str, Callable[[], tuple[int, int, int, int]]] = {}
        self.listener_connects: Callable[[], int] | None = None
        # Group commit: batches written, events in them.
        self.group_commit: Callable[[], tuple[int, int]] | None = None

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        if self.pool is not None:
            size, in_use, maximum = self.pool()
            yield GaugeMetricFamily("channel_events_db_pool_connections",
                                    "Open connections of the pool.", value=size)
            yield GaugeMetricFamily("channel_events_db_pool_in_use",
                                    "Pool connections lent to a call.", value=in_use)
            yield GaugeMetricFamily("channel_events_db_pool_max",
                                    "The pool's maximum size.", value=maximum)
        subscribers = GaugeMetricFamily(
            "channel_events_watch_subscribers", "Open watch streams.", labels=["transport"])
        behind = GaugeMetricFamily(
            "channel_events_watch_subscribers_behind",
            "Open watch streams behind the hub, catching up from the database.",
            labels=["transport"])
        catch_ups = CounterMetricFamily(
            "channel_events_watch_catch_ups", "Catch-up reads of streams behind the hub.",
            labels=["transport"])
        overflows = CounterMetricFamily(
            "channel_events_watch_overflows",
            "Times a slow stream's queue overflowed (it then catches up from the database).",
            labels=["transport"])
        for transport, stats in self.watches.items():
            streams, lagging, caught_up, overflowed = stats()
            subscribers.add_metric([transport], streams)
            behind.add_metric([transport], lagging)
            catch_ups.add_metric([transport], caught_up)
            overflows.add_metric([transport], overflowed)
        yield subscribers
        yield behind
        yield catch_ups
        yield overflows
        if self.listener_connects is not None:
            yield CounterMetricFamily(
                "channel_events_listener_reconnects",
                "Times the commit listener reconnected after losing its connection.",
                value=max(0, self.listener_connects() - 1),
            )

        if self.group_commit is not None:
            batches, events = self.group_commit()
            yield CounterMetricFamily(
                "channel_events_group_commit_batches",
                "Batches of single events written together (RecordAlertEvent).",
                value=batches,
            )
            yield CounterMetricFamily(
                "channel_events_group_commit_events",
                "Events written in those batches: over the batches, their mean size.",
                value=events,
            )

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        return []


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        grpc_labels = ["grpc_type", "grpc_service", "grpc_method"]
        self.grpc_started = Counter(
            "grpc_server_started", "RPCs started on the server.", grpc_labels, registry=r)
        self.grpc_handled = Counter(
            "grpc_server_handled", "RPCs completed on the server, by status code.",
            [*grpc_labels, "grpc_code"], registry=r)
        self.grpc_seconds = Histogram(
            "grpc_server_handling_seconds", "Time to handle an RPC, to its last message.",
            grpc_labels, buckets=_LATENCY_BUCKETS, registry=r)
        self.grpc_received = Counter(
            "grpc_server_msg_received", "Messages received from clients.", grpc_labels, registry=r)
        self.grpc_sent = Counter(
            "grpc_server_msg_sent", "Messages sent to clients (stream messages too).",
            grpc_labels, registry=r)
        self.http_requests = Counter(
            "http_server_requests", "HTTP requests completed, by route and status.",
            ["method", "route", "status"], registry=r)
        self.http_seconds = Histogram(
            "http_server_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.recorded = Counter(
            "channel_events_recorded", "Events recorded, new or duplicate (a retry).",
            ["provider", "outcome"], registry=r)
        self.rejected = Counter(
            "channel_events_ingest_rejected",
            "Events and webhook bodies refused by an ingest call, by reason.",
            ["provider", "reason"], registry=r)
        self.errors = Counter(
            "channel_events_request_errors",
            "Calls answered with an error, by transport, method or route, and reason.",
            ["transport", "method", "reason"], registry=r)
        self.redactions = Counter(
            "channel_events_redactions", "Secrets and personal data redacted, by kind.",
            ["kind"], registry=r)
        self.watch_lag = Histogram(
            "channel_events_watch_delivery_lag_seconds",
            "From an event's receipt to its rendering for delivery to watchers "
            "(once per transport for the live hub, once per stream catching up).",
            ["transport"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r)
        self.db_errors = Counter(
            "channel_events_db_errors", "Database errors that reached a call, by SQLSTATE class.",
            ["sqlstate_class"], registry=r)
        # The retention pass (server/operations/retention.py).
        self.retention_removed = Counter(
            "channel_events_retention_removed",
            "Rows removed by retention, by kind (events, runs, dry_runs, handoffs, bodies).",
            ["kind"], registry=r)
        self.partitions_removed = Counter(
            "channel_events_retention_partitions_removed",
            "Week partitions of events dropped by retention.", registry=r)
        self.partitions = Gauge(
            "channel_events_event_partitions",
            "Week partitions of events, those ahead included (as of the last pass).",
            registry=r)
        self.horizon_age = Gauge(
            "channel_events_retention_horizon_age_seconds",
            "Age of the oldest events kept: from the start of the oldest partition "
            "(as of the last pass).", registry=r)
        self.live = _Live()
        r.register(self.live)
        self._kinds: set[str] = set()
        self._settles: list[Callable[[], None]] = []

    def before_render(self, settle: Callable[[], None]) -> None:
        """`settle` brings counts kept back in batches up to date; called on
        every render, so a scrape never misses a call that has ended."""
        self._settles.append(settle)

    def render(self) -> bytes:
        for settle in self._settles:
            settle()
        return generate_latest(self.registry)

    # --- what the operations report ---

    def events_recorded(self, provider: str, duplicates: Sequence[bool]) -> None:
        label = provider_label(provider)
        new = duplicates.count(False)
        if new:
            self.recorded.labels(label, "new").inc(new)
        if len(duplicates) - new:
            self.recorded.labels(label, "duplicate").inc(len(duplicates) - new)

    def ingest_rejected(self, provider: str, reason: str) -> None:
        self.rejected.labels(provider_label(provider), reason).inc()

    def redacted(self, texts: Iterable[str]) -> None:
        """Counts the redaction markers of stored text, by kind."""
        for text in texts:
            if "[REDACTED:" not in text:
                continue
            for match in _MARKER.finditer(text):
                kind = match.group(1)
                if kind not in self._kinds:
                    if len(self._kinds) >= _MAX_KINDS:
                        kind = OTHER
                    else:
                        self._kinds.add(kind)
                self.redactions.labels(kind).inc()

    # --- what the transports report ---

    def call_failed(self, transport: str, method: str, reason: str, error: BaseException) -> None:
        self.errors.labels(transport, method, reason).inc()
        state = sqlstate_class(error)
        if state is not None:
            self.db_errors.labels(state).inc()
