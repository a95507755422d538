"""How the foundation's RPCs grow with the history: 2,000 events vs 200,000.

Two databases in one run on the same PostgreSQL, one server per database, the
same calls against each. The figure that matters is the ratio of medians: a
ratio near 1 means the cost depends on the page or window asked for, not on how
many events the table holds.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from awooop.channel_events.v1 import dossier_pb2, events_pb2

from bench.history import write_history
from tests.harness import INGEST, PostgresForTests, Service, start_service, stop_service

# The small history still fills every window asked for (100 events per project),
# so both sides return the same amount and only the table size differs.
SMALL, LARGE = 2_000, 200_000
CALLS = 150

Call = Callable[[Service], Awaitable[object]]


async def _record(service: Service) -> object:
    return await service.events.RecordAlertEvent(
        events_pb2.RecordAlertEventRequest(
            project_id="proj-1", provider="alertmanager", event_id=f"b-{time.perf_counter_ns()}",
            title="HighPodMemory", fingerprint="fp-1",
            annotations={"summary": "memory above 90% on api-7d9f8b6c5-x2k4q"},
        ),
        metadata=INGEST,
    )


async def _recent_page_three(service: Service) -> object:
    token = ""
    for _ in range(3):
        page = await service.events.ListRecentEvents(
            events_pb2.ListRecentEventsRequest(project_id="proj-1", limit=20, page_token=token)
        )
        token = page.next_page_token
    return page


CALLS_BY_NAME: dict[str, Call] = {
    "RecordAlertEvent": _record,
    "ListRecentEvents(project)": lambda s: s.events.ListRecentEvents(
        events_pb2.ListRecentEventsRequest(project_id="proj-1", limit=100)
    ),
    "ListRecentEvents(prefix)": lambda s: s.events.ListRecentEvents(
        events_pb2.ListRecentEventsRequest(provider_prefix="sentry:", limit=100)
    ),
    "ListRecentEvents(3 pages)": _recent_page_three,
    "GetEventDossier(project)": lambda s: s.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(project_id="proj-1", limit=50)
    ),
    "GetEventDossier(provider_event_id)": lambda s: s.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(provider_event_id="sentry:evt-4")
    ),
    "GetDossierCoverage(200)": lambda s: s.dossier.GetDossierCoverage(
        dossier_pb2.GetDossierCoverageRequest(project_id="proj-1", limit=200)
    ),
    "GetDossierRecurrence(300)": lambda s: s.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(project_id="proj-1", limit=300)
    ),
}


async def _median_ms(service: Service, call: Call) -> float:
    await call(service)  # warm-up
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        await call(service)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def _run() -> None:
    postgres = PostgresForTests()
    services: list[Service] = []
    try:
        for size in (SMALL, LARGE):
            dsn = await postgres.fresh_database()
            await write_history(dsn, size)
            services.append(await start_service(dsn))
        small, large = services
        print(f"{'call':36} {'p50 @2k (ms)':>14} {'p50 @200k (ms)':>15} {'ratio':>7}")
        for name, call in CALLS_BY_NAME.items():
            # The two sizes back to back, so that a burst of machine noise hits both.
            at_small = await _median_ms(small, call)
            at_large = await _median_ms(large, call)
            print(f"{name:36} {at_small:14.2f} {at_large:15.2f} {at_large / at_small:7.2f}")
    finally:
        for service in services:
            await stop_service(service)
        postgres.close()


def main() -> None:
    asyncio.run(_run())
