"""The ref systems are listed once (REF_SYSTEMS); the fields that total them,
spelled out in the read models and the contract, must follow that list."""

from __future__ import annotations

from dataclasses import fields

import pytest
from awooop.channel_events.v1 import dossier_pb2
from google.protobuf.message import Message

from server.domain.dossier import CoverageSummary, ProviderCoverage
from server.domain.models import REF_SYSTEMS
from server.domain.recurrence import GroupFacts

EXPECTED = [f"{system}_ref_total" for system in REF_SYSTEMS]


def _per_system_totals(names: list[str]) -> list[str]:
    """The <system>_ref_total names; source_ref_total counts every ref."""
    return [n for n in names if n.endswith("_ref_total") and n != "source_ref_total"]


def test_ref_systems_are_distinct_lowercase_names() -> None:
    assert len(set(REF_SYSTEMS)) == len(REF_SYSTEMS)
    assert all(system.isidentifier() and system.islower() for system in REF_SYSTEMS)


@pytest.mark.parametrize("model", [ProviderCoverage, CoverageSummary])
def test_each_read_model_has_one_total_per_ref_system_in_order(model: type) -> None:
    assert _per_system_totals([f.name for f in fields(model)]) == EXPECTED


def test_the_recurrence_facts_have_one_total_per_ref_system_in_order() -> None:
    assert _per_system_totals(list(GroupFacts._fields)) == EXPECTED


@pytest.mark.parametrize(
    "message",
    [dossier_pb2.ProviderCoverage, dossier_pb2.CoverageSummary, dossier_pb2.RecurrenceGroup],
)
def test_each_contract_message_has_one_total_per_ref_system_in_order(
    message: type[Message],
) -> None:
    assert _per_system_totals([f.name for f in message.DESCRIPTOR.fields]) == EXPECTED
