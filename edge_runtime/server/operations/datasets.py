"""Placeholder until this layer lands."""

from edge_runtime.server.errors import ApiError


def _later(ctx, params):  # type: ignore[no-untyped-def]
    raise ApiError("InternalServerException", "not implemented yet")


OPERATIONS = {
    "CreateDataset": _later,
    "DescribeDataset": _later,
    "DeleteDataset": _later,
    "ListDatasetEntries": _later,
    "UpdateDatasetEntries": _later,
}
