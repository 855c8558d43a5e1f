"""Placeholder until this layer lands."""

from edge_runtime.server.errors import ApiError


def _later(ctx, params):  # type: ignore[no-untyped-def]
    raise ApiError("InternalServerException", "not implemented yet")


OPERATIONS = {
    "StartModelPackagingJob": _later,
    "DescribeModelPackagingJob": _later,
    "ListModelPackagingJobs": _later,
}
