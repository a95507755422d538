from awooop.channel_events.v1 import dossier_pb2

from tests.harness import Service


async def test_a_recorded_event_reads_back_in_the_dossier(service: Service) -> None:
    recorded = await service.record(title="HighPodMemory", fingerprint="f1")
    dossier = await service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(project_id="alpha")
    )
    assert [e.event_id for e in dossier.events] == [recorded.event_id]
