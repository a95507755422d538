"""convert.timestamp builds the Timestamp that Timestamp.FromDatetime did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from google.protobuf import timestamp_pb2

from server.api.convert import timestamp

INSTANTS = [
    datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(2024, 2, 29, 1, 2, 3, 1, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]


def _from_datetime(value: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(value.astimezone(UTC))
    return message


def test_every_instant_converts_as_from_datetime_does() -> None:
    for value in INSTANTS:
        assert timestamp(value) == _from_datetime(value), value


def test_no_time_is_no_timestamp() -> None:
    assert timestamp(None) is None
