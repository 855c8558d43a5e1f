"""Placeholder until this layer lands."""

from edge_runtime.server.errors import ApiError


def _later(ctx, params):  # type: ignore[no-untyped-def]
    raise ApiError("InternalServerException", "not implemented yet")


OPERATIONS = {
    "CreateModel": _later,
    "DescribeModel": _later,
    "ListModels": _later,
    "DeleteModel": _later,
}
