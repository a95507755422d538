"""WorkItemService over gRPC: each RPC translates its request into the input
of its operation (server/operations/work_items.py), and the result into its
response. Dry-runs and handoffs record the calling operator.

What each RPC does, checks and defaults is the operation's; the contract of
each is in protos/awooop/channel_events/v1/work_items.proto.
"""

from __future__ import annotations

import grpc
from awooop.channel_events.v1 import work_items_pb2, work_items_pb2_grpc

from server.api import convert
from server.api.guard import current_principal
from server.operations.work_items import WorkItemOperations


class WorkItemService(work_items_pb2_grpc.WorkItemServiceServicer):
    def __init__(self, work_items: WorkItemOperations) -> None:
        self._work_items = work_items

    async def PreviewWorkItem(
        self, request: work_items_pb2.PreviewWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.PreviewWorkItemResponse:
        preview = await self._work_items.preview_work_item(convert.work_item_query(request))
        return convert.preview_response(preview)

    async def DryRunWorkItem(
        self, request: work_items_pb2.DryRunWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.DryRunWorkItemResponse:
        dry_run = await self._work_items.dry_run_work_item(
            convert.work_item_query(request), current_principal()
        )
        return convert.dry_run_response(dry_run)

    async def HandoffWorkItem(
        self, request: work_items_pb2.HandoffWorkItemRequest, context: grpc.aio.ServicerContext
    ) -> work_items_pb2.HandoffWorkItemResponse:
        handoff = await self._work_items.handoff_work_item(
            convert.handoff_request(request), current_principal()
        )
        return convert.handoff_response(handoff)

    async def ListWorkItemHistory(
        self,
        request: work_items_pb2.ListWorkItemHistoryRequest,
        context: grpc.aio.ServicerContext,
    ) -> work_items_pb2.ListWorkItemHistoryResponse:
        records = await self._work_items.list_work_item_history(convert.history_query(request))
        return convert.history_response(records)
