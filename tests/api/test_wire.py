"""The wire rules' decoding step (server/api/wire.py), without a server: the
end-to-end checks are in test_any_request.py."""

from __future__ import annotations

from awooop.channel_events.v1 import events_pb2

from server.api.wire import HoldsNul, Undecodable, tolerant

parse = tolerant(events_pb2.RecordAlertEventRequest.FromString)


def test_a_request_with_zero_bytes_but_no_nul_decodes_to_its_message() -> None:
    # A double's bytes (1.0: 00 00 00 00 00 00 f0 3f) and a map entry's empty
    # value are zero bytes on the wire that are no NUL of any string.
    request = events_pb2.RecordAlertEventRequest(project_id="p", labels={"team": ""})
    request.payload.update({"ratio": 1.0, "text": "no nul here"})
    raw = request.SerializeToString()
    assert b"\x00" in raw

    assert parse is not None
    assert parse(raw) == request


def test_a_request_with_nul_strings_names_each_of_them() -> None:
    request = events_pb2.RecordAlertEventRequest(
        project_id="p", title="a\x00b", labels={"k\x00": "v", "ok": "\x00"}
    )
    request.payload.update({"left": "\x00 to the domain"})

    assert parse is not None
    result = parse(request.SerializeToString())

    assert isinstance(result, HoldsNul)
    # A key is quoted in its path, the NUL shown as U+FFFD (validation.key_path).
    assert sorted(result.paths) == ['labels["k\\ufffd"] (key)', "labels[ok]", "title"]


def test_bytes_that_are_no_message_are_undecodable_not_an_exception() -> None:
    assert parse is not None
    assert isinstance(parse(b"\x0a\xff"), Undecodable)
