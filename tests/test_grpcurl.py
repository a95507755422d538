"""The service as a newcomer meets it: the real grpcurl binary against a running
server, by reflection, with no .proto file at hand.

The first tests run the README's own shell blocks (see tests/grpcurl.py), so
its examples cannot rot; the others drive grpcurl directly over every service.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from awooop.channel_events.v1 import dossier_pb2, events_pb2, work_items_pb2

from tests.grpcurl import (
    GRPCURL,
    README,
    README_ADDRESS,
    README_HTTP_ADDRESS,
    Command,
    Result,
    grpcurl,
    readme_commands,
    run_shell,
    split_commands,
)
from tests.harness import TOKENS, Service, start_service, stop_service
from tests.samples import SAMPLES
from tests.webhooks import PERSONAL, SAMPLE_PROVIDERS, sample_headers

PACKAGE = "awooop.channel_events.v1"
SERVICES = {
    f"{PACKAGE}.EventService": events_pb2.DESCRIPTOR.services_by_name["EventService"],
    f"{PACKAGE}.DossierService": dossier_pb2.DESCRIPTOR.services_by_name["DossierService"],
    f"{PACKAGE}.WorkItemService": work_items_pb2.DESCRIPTOR.services_by_name["WorkItemService"],
}
SECRET = "readme-sentry-client-secret"


def json_out(result: Result) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def status_of(result: Result) -> dict[str, Any]:
    """The status grpcurl -format-error prints for a failed call."""
    assert result.returncode != 0, result.stdout
    return json.loads(result.stderr)


async def call(
    service: Service, method: str, request: dict[str, Any], token: str | None = None
) -> Result:
    auth = ["-H", f"authorization: Bearer {TOKENS[token]}"] if token else []
    return await grpcurl(
        "-plaintext", "-format-error", *auth, "-d", json.dumps(request),
        service.address, f"{PACKAGE}.{method}",
    )


async def relay(
    service: Service, provider: str, body: bytes, headers: dict[str, str] | None = None
) -> Result:
    """The README's relay recipe: base64 the body, wrap it with jq, grpcurl -d @."""
    script = (
        'jq -n --arg body "$(base64 -w0 < body.json)" --argjson headers "$HEADERS" '
        '--arg provider "$PROVIDER" '
        "'{project_id: \"alpha\", provider: $provider, body: $body, headers: $headers}' | "
        f'{GRPCURL} -plaintext -format-error -H "authorization: Bearer $TOKEN" -d @ '
        f"{service.address} {PACKAGE}.EventService/IngestProviderPayload"
    )
    with tempfile.TemporaryDirectory(prefix="relay-") as workdir:
        (Path(workdir) / "body.json").write_bytes(body)
        return await run_shell(
            script, Path(workdir),
            env={
                "HEADERS": json.dumps(headers or {}),
                "PROVIDER": provider,
                "TOKEN": TOKENS["ingest"],
            },
        )


# ---------------------------------------------------------------------------
# The README, run
# ---------------------------------------------------------------------------


def test_shell_blocks_split_into_the_commands_a_newcomer_pastes() -> None:
    block = (
        "export A=1 B=$(cat f)\n"
        "\n"
        "# a comment\n"
        "grpcurl -d '{\n"
        '  "x": 1\n'
        "}' host list\n"
        "cat > b.json <<'EOF'\n"
        "{\"it's\": \"a heredoc\"}\n"
        "EOF\n"
        "jq -n '{a: 1}' \\\n"
        "  --arg b c |\n"
        "grpcurl -d @ host X/Y\n"
    )

    commands = split_commands(block)

    assert [c.text.splitlines()[0] for c in commands] == [
        "export A=1 B=$(cat f)",
        "grpcurl -d '{",
        "cat > b.json <<'EOF'",
        "jq -n '{a: 1}' \\",
    ]
    assert [c.sets_variables for c in commands] == [True, False, False, False]
    assert commands[1].method == "list"
    assert commands[3].text.endswith("grpcurl -d @ host X/Y")


def test_the_readme_shows_a_newcomer_every_kind_of_call() -> None:
    commands = readme_commands(README.read_text())
    methods = {c.method for c in commands}

    assert {
        "list",
        "describe",
        "EventService/RecordAlertEvent",
        "EventService/IngestProviderPayload",
        "DossierService/GetEventDossier",
        "DossierService/GetDossierCoverage",
        "DossierService/GetDossierRecurrence",
    } <= methods
    assert any(c.expect_error and c.method for c in commands)
    assert all(README_ADDRESS in c.text for c in commands if c.method)


def _check_list(result: Result) -> None:
    for name in [*SERVICES, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"]:
        assert name in result.stdout.splitlines()


def _check_describe(result: Result) -> None:
    name, _, kind = result.stdout.partition(" is a ")
    assert kind, result.stdout
    if kind.startswith("service:") and name in SERVICES:
        for method in SERVICES[name].methods:
            assert f"rpc {method.name} (" in result.stdout


def _check_json(result: Result) -> None:
    json_out(result)


def _check_recorded(result: Result) -> None:
    recorded = json_out(result)
    uuid.UUID(recorded["event_id"])
    assert ":" in recorded["provider_event_id"]


def _check_ingested(result: Result) -> None:
    events = json_out(result)["events"]
    assert events
    for event in events:
        uuid.UUID(event["event_id"])
        assert int(event["cursor"], 16) > 0


def _check_dossier(result: Result) -> None:
    found = json_out(result)
    assert found["events"]
    # The README's write carries a password in a URL: it never comes back.
    assert "hunter2" not in result.stdout
    assert "[REDACTED:" in result.stdout


def _check_coverage(result: Result) -> None:
    found = json_out(result)
    assert found["providers"]
    assert int(found["summary"]["source_count"]) > 0


def _check_recurrence(result: Result) -> None:
    found = json_out(result)
    assert found["items"]
    assert all(item["recurrence_key"] for item in found["items"])


README_CHECKS: dict[str, Callable[[Result], None]] = {
    "list": _check_list,
    "describe": _check_describe,
    "EventService/RecordAlertEvent": _check_recorded,
    "EventService/IngestProviderPayload": _check_ingested,
    "DossierService/GetEventDossier": _check_dossier,
    "DossierService/GetDossierCoverage": _check_coverage,
    "DossierService/GetDossierRecurrence": _check_recurrence,
}


def _check_error(result: Result) -> None:
    assert result.returncode != 0, result.stdout
    assert re.search(r"Code: InvalidArgument", result.stderr), result.stderr
    assert "type.googleapis.com/google.rpc.BadRequest" in result.stderr
    assert '"field_violations"' in result.stderr


@pytest.fixture
async def signed_service(database: str) -> Any:
    running = await start_service(database, sentry_client_secret=SECRET)
    yield running
    await stop_service(running)


async def test_every_readme_command_runs_as_written_against_a_live_server(
    signed_service: Service, tmp_path: Path
) -> None:
    # The newcomer's checkout: the venv `make run` made, the token it printed.
    (tmp_path / ".venv").symlink_to(GRPCURL.parent.parent)
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "dev-token").write_text(TOKENS["all"] + "\n")
    commands = readme_commands(README.read_text())
    prelude: list[Command] = []

    for command in commands:
        script = "\n".join(
            [*(c.text for c in prelude), command.text]
        ).replace(README_ADDRESS, signed_service.address).replace(
            README_HTTP_ADDRESS, f"127.0.0.1:{signed_service.app.http_port}"
        )
        result = await run_shell(
            script, tmp_path,
            env={"AWOOOP_SENTRY_CLIENT_SECRET": SECRET, "PATH": "/usr/bin:/bin"},
        )
        context = f"{command.text}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        if command.expect_error and command.method:
            _check_error(result)
        else:
            assert result.returncode == 0, context
            if command.method and not command.sets_variables:  # an assignment prints nothing
                README_CHECKS.get(command.method, _check_json)(result)
        if command.sets_variables:
            prelude.append(command)

    dossier = await signed_service.dossier.GetEventDossier(
        dossier_pb2.GetEventDossierRequest(project_id="demo")
    )
    assert {e.provider for e in dossier.events} == {"alertmanager", "sentry"}
    async with signed_service.store.pool.acquire() as connection:
        handoffs = await connection.fetchval("SELECT count(*) FROM work_item_handoffs")
    assert handoffs == 1  # the README's work item walk-through ran to its end


# ---------------------------------------------------------------------------
# grpcurl over every service
# ---------------------------------------------------------------------------


async def test_grpcurl_lists_every_service_by_reflection(service: Service) -> None:
    result = await grpcurl("-plaintext", service.address, "list")

    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(
        [*SERVICES, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"]
    )


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_grpcurl_describes_each_service_and_its_messages(service: Service, name: str) -> None:
    described = await grpcurl("-plaintext", service.address, "describe", name)

    assert described.returncode == 0, described.stderr
    assert described.stdout.startswith(f"{name} is a service:")
    for method in SERVICES[name].methods:
        assert f"rpc {method.name} ( .{method.input_type.full_name} )" in described.stdout
        message = await grpcurl(
            "-plaintext", service.address, "describe", method.input_type.full_name
        )
        assert message.returncode == 0, message.stderr
        for field in method.input_type.fields:
            assert re.search(rf"\b{field.name} = {field.number}\b", message.stdout), (
                method.input_type.full_name, field.name, message.stdout
            )


async def test_grpcurl_reports_the_service_healthy(service: Service) -> None:
    result = await grpcurl("-plaintext", service.address, "grpc.health.v1.Health/Check")

    assert json_out(result) == {"status": "SERVING"}


async def test_grpcurl_writes_with_the_bearer_token_and_is_refused_without_it(
    service: Service,
) -> None:
    event = {"project_id": "alpha", "provider": "alertmanager", "event_id": "grpcurl-1",
             "title": "HighPodMemory", "fingerprint": "f74798f72524fe89"}

    refused = await call(service, "EventService/RecordAlertEvent", event)
    recorded = await call(service, "EventService/RecordAlertEvent", event, "ingest")
    forbidden = await call(service, "EventService/RecordAlertEvent", event, "reader")

    assert status_of(refused)["code"] == 16  # UNAUTHENTICATED
    assert json_out(recorded)["provider_event_id"] == "alertmanager:grpcurl-1"
    assert status_of(forbidden)["code"] == 7  # PERMISSION_DENIED
    assert await service.count_rows("events") == 1


async def test_every_sample_ingests_through_the_relay_recipe(service: Service) -> None:
    for name, provider in SAMPLE_PROVIDERS.items():
        result = await relay(service, provider, (SAMPLES / name).read_bytes(), sample_headers(name))
        [event] = json_out(result)["events"]
        assert event["provider_event_id"].startswith(f"{provider}:")
        assert "is_duplicate" not in event  # false, so grpcurl leaves it out

    retried = await relay(
        service, "alertmanager",
        (SAMPLES / "alertmanager_firing_single_highpodmemory.json").read_bytes(),
    )

    assert json_out(retried)["events"][0]["is_duplicate"] is True
    assert await service.count_rows("events") == 6


async def test_grpcurl_reads_every_read_model(service: Service) -> None:
    for name, provider in SAMPLE_PROVIDERS.items():
        body = (SAMPLES / name).read_bytes()
        json_out(await relay(service, provider, body, sample_headers(name)))
    scope = {"project_id": "alpha"}

    recent = json_out(await call(service, "EventService/ListRecentEvents", scope))
    dossier = json_out(await call(service, "DossierService/GetEventDossier", scope))
    coverage = json_out(await call(service, "DossierService/GetDossierCoverage", scope))
    recurrence = json_out(await call(service, "DossierService/GetDossierRecurrence", scope))

    assert recent["total"] == 5
    assert dossier["total"] == 5
    assert dossier["summary"]["source_count"] == "5"  # int64 is a JSON string
    assert [p["provider"] for p in coverage["providers"]] == ["alertmanager", "sentry", "signoz"]
    assert len(recurrence["items"]) == 5
    for read in (recent, dossier, coverage, recurrence):
        for value in PERSONAL:
            assert value not in json.dumps(read)


async def test_grpcurl_shows_an_error_with_its_code_and_bad_request_details(
    service: Service,
) -> None:
    body = json.loads((SAMPLES / "alertmanager_firing_single_highpodmemory.json").read_text())
    del body["alerts"][0]["startsAt"]

    too_many = status_of(await call(service, "EventService/ListRecentEvents", {"limit": 500}))
    broken = status_of(await relay(service, "alertmanager", json.dumps(body).encode()))

    assert too_many["code"] == 3  # INVALID_ARGUMENT
    [bad_request, info] = too_many["details"]
    assert bad_request["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert [v["field"] for v in bad_request["field_violations"]] == ["limit"]
    # The call's request id, to find it in the server's log.
    assert len(info.pop("metadata")["request_id"]) == 32
    assert info == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "domain": "channel-events.awooop",
        "reason": "INVALID_ARGUMENT",
    }
    assert broken["code"] == 3
    assert [v["field"] for v in broken["details"][0]["field_violations"]] == [
        "body.alerts[0].startsAt"
    ]
    assert await service.count_rows("events") == 0


def rpc_comments() -> dict[str, dict[str, str]]:
    """service -> rpc -> the first line of its leading comment in protos/."""
    comments: dict[str, dict[str, str]] = {}
    for proto in sorted((Path(__file__).parents[1] / "protos").rglob("*.proto")):
        service, leading = "", []
        for line in proto.read_text().splitlines():
            stripped = line.strip()
            if match := re.match(r"service (\w+)", stripped):
                service = f"awooop.channel_events.v1.{match.group(1)}"
            if stripped.startswith("//"):
                leading.append(stripped)
                continue
            if match := re.match(r"rpc (\w+)", stripped):
                comments.setdefault(service, {})[match.group(1)] = leading[0] if leading else ""
            leading = []
    return comments


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_grpcurl_describe_shows_the_comment_of_every_rpc(service: Service, name: str) -> None:
    described = await grpcurl("-plaintext", service.address, "describe", name)

    comments = rpc_comments()[name]
    assert set(comments) == {m.name for m in SERVICES[name].methods}
    for rpc, comment in comments.items():
        assert comment, f"{rpc} has no comment in the proto: the proto is the contract"
        assert comment in described.stdout, (rpc, comment)
