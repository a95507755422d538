"""Provider bodies, as ingested, read back as recurrence groups (SPEC 2b and 3)."""

from __future__ import annotations

import json

from awooop.channel_events.v1 import dossier_pb2, events_pb2, work_items_pb2
from google.protobuf import json_format

from tests.harness import Service
from tests.samples import sample
from tests.webhooks import PERSONAL, SAMPLE_PROVIDERS, ingest, ingest_sample


async def recurrence(service: Service) -> dossier_pb2.GetDossierRecurrenceResponse:
    return await service.dossier.GetDossierRecurrence(
        dossier_pb2.GetDossierRecurrenceRequest(project_id="alpha")
    )


def groups_by_key(
    response: dossier_pb2.GetDossierRecurrenceResponse,
) -> dict[str, dossier_pb2.RecurrenceGroup]:
    return {group.recurrence_key: group for group in response.items}


async def test_a_retried_alertmanager_body_is_one_occurrence_and_one_duplicate(
    service: Service,
) -> None:
    await ingest_sample(service, "alertmanager_firing_single_highpodmemory.json")
    await ingest_sample(service, "alertmanager_firing_single_highpodmemory.json")

    found = await recurrence(service)

    [group] = found.items
    assert group.recurrence_key == "alertmanager:f74798f72524fe89"
    assert (group.occurrence_total, group.duplicate_total) == (1, 1)
    assert found.summary.recurrent_group_total == 0
    assert found.summary.duplicate_event_total == 1


async def test_a_firing_then_resolved_alert_are_two_stages_of_one_recurrence_group(
    service: Service,
) -> None:
    firing = sample("alertmanager_resolved_single_kube_deployment.json")
    firing["status"] = firing["alerts"][0]["status"] = "firing"
    firing["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"

    await ingest(service, "alertmanager", firing)
    resolved = await ingest_sample(service, "alertmanager_resolved_single_kube_deployment.json")

    [group] = (await recurrence(service)).items
    assert group.recurrence_key == "alertmanager:fbab788ec4c1018b"
    assert (group.occurrence_total, group.duplicate_total) == (2, 0)
    assert group.latest_event_id == resolved.events[0].event_id
    assert (group.alertname, group.namespace, group.target_resource) == (
        "Deployment", "eric-eo-cm-ci406", "eric-log-transformer"
    )


async def test_a_sentry_event_alert_and_its_issue_webhook_are_one_recurrence_group(
    service: Service,
) -> None:
    issue = sample("sentry_issue_created.json")
    issue["data"]["issue"]["id"] = sample("sentry_event_alert_triggered.json")["data"]["event"][
        "issue_id"
    ]

    await ingest_sample(service, "sentry_event_alert_triggered.json")
    await ingest(service, "sentry", issue, {"Sentry-Hook-Resource": "issue"})

    [group] = (await recurrence(service)).items
    assert group.recurrence_key == "sentry:sentry-issue:1117540176"
    assert group.occurrence_total == 2
    assert group.sentry_ref_total == 2
    assert group.latest_provider_event_id == "sentry:issue-1117540176"


async def test_every_sample_forms_its_own_group_and_no_personal_data_shows(
    service: Service,
) -> None:
    for name in SAMPLE_PROVIDERS:
        await ingest_sample(service, name)

    found = await recurrence(service)

    assert sorted(groups_by_key(found)) == [
        "alertmanager:f74798f72524fe89",
        "alertmanager:fbab788ec4c1018b",
        "sentry:sentry-issue:1117540176",
        "sentry:sentry-issue:1170820242",
        "signoz:ad592b0afcbe2e79",
    ]
    assert found.summary.source_event_total == 5
    assert found.summary.unlinked_event_total == 5
    text = json_format.MessageToJson(found)
    for value in PERSONAL:
        assert value not in text


async def test_a_signoz_alert_that_fires_again_recurs_under_its_fingerprint(
    service: Service,
) -> None:
    body = sample("signoz_docs_sample_firing.json")
    again = json.loads(json.dumps(body))
    again["alerts"][0]["startsAt"] = "2022-04-25T15:35:19.12+05:30"

    await ingest(service, "signoz", body)
    await ingest(service, "signoz", again)

    [group] = (await recurrence(service)).items
    assert group.recurrence_key == "signoz:ad592b0afcbe2e79"
    assert group.occurrence_total == 2
    # Two occurrences and no run: the automation gap this service exists to show.
    assert group.work_item.kind == work_items_pb2.WORK_ITEM_KIND_AUTOMATION_GAP
    assert group.work_item.next_step == "propose_runbook"
    recent = await service.events.ListRecentEvents(
        events_pb2.ListRecentEventsRequest(project_id="alpha")
    )
    assert [e.is_duplicate for e in recent.events] == [False, False]
