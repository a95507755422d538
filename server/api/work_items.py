"""WorkItemService: plans, dry-runs and handoffs of recurrence work items."""

from __future__ import annotations

import grpc
from awooop.channel_events.v1 import work_items_pb2, work_items_pb2_grpc

from server.errors import Unimplemented
from server.storage.store import Store


class WorkItemService(work_items_pb2_grpc.WorkItemServiceServicer):
    def __init__(self, store: Store) -> None:
        self._store = store

    async def PreviewWorkItem(
        self, request: work_items_pb2.PreviewWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.PreviewWorkItemResponse:
        raise Unimplemented("PreviewWorkItem is not implemented yet")

    async def DryRunWorkItem(
        self, request: work_items_pb2.DryRunWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.DryRunWorkItemResponse:
        raise Unimplemented("DryRunWorkItem is not implemented yet")

    async def HandoffWorkItem(
        self, request: work_items_pb2.HandoffWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.HandoffWorkItemResponse:
        raise Unimplemented("HandoffWorkItem is not implemented yet")

    async def ListWorkItemHistory(
        self,
        request: work_items_pb2.ListWorkItemHistoryRequest,
        context: grpc.aio.ServicerContext,
    ) -> work_items_pb2.ListWorkItemHistoryResponse:
        raise Unimplemented("ListWorkItemHistory is not implemented yet")
