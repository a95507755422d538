"""Server reflection that serves the contract with its comments.

grpcio-reflection builds its answers from the runtime descriptor pool, which
keeps no source comments, so `grpcurl describe` would show bare names. `make
generate` also writes the contract as a FileDescriptorSet with source info
(channel_events.binpb, beside the stubs); this servicer answers with those
files instead, so every comment in protos/ reaches grpcurl. Files not in the
set (google/protobuf/*, health) are served as grpcio-reflection builds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from awooop.channel_events import v1 as contract_package
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha._async import ReflectionServicer

DESCRIPTOR_SET = Path(contract_package.__file__).with_name("channel_events.binpb")


def documented_files(path: Path = DESCRIPTOR_SET) -> dict[str, bytes]:
    """Serialized FileDescriptorProtos with comments, by file name."""
    descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    for file in descriptor_set.file:
        _drop_json_names(file.message_type)
    return {file.name: file.SerializeToString() for file in descriptor_set.file}


def _drop_json_names(messages: Iterable[descriptor_pb2.DescriptorProto]) -> None:
    # protoc records lowerCamel json_name on every field; grpcurl then prints
    # eventId where the contract (and the old JSON API) says event_id. Without
    # them, as grpcio-reflection serves files, grpcurl keeps the proto names.
    for message in messages:
        for field in message.field:
            field.ClearField("json_name")
        _drop_json_names(message.nested_type)


class DocumentedReflectionServicer(ReflectionServicer):
    # Overrides grpcio-reflection's two lookups that return files; the rest of
    # the protocol (list, extensions, errors) is theirs unchanged.

    def __init__(self, service_names: Iterable[str]) -> None:
        super().__init__(service_names)
        self._documented = documented_files()

    def _with_comments(
        self, response: reflection_pb2.ServerReflectionResponse
    ) -> reflection_pb2.ServerReflectionResponse:
        if response.HasField("file_descriptor_response"):
            files = response.file_descriptor_response.file_descriptor_proto
            for index, serialized in enumerate(files):
                name = descriptor_pb2.FileDescriptorProto.FromString(serialized).name
                files[index] = self._documented.get(name, serialized)
        return response

    def _file_by_filename(
        self, request: reflection_pb2.ServerReflectionRequest, filename: str
    ) -> reflection_pb2.ServerReflectionResponse:
        return self._with_comments(super()._file_by_filename(request, filename))

    def _file_containing_symbol(
        self, request: reflection_pb2.ServerReflectionRequest, fully_qualified_name: str
    ) -> reflection_pb2.ServerReflectionResponse:
        return self._with_comments(super()._file_containing_symbol(request, fully_qualified_name))
