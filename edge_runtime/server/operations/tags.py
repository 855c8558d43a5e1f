"""TagResource, UntagResource, ListTagsForResource: tags on models (what the API documents)."""

from __future__ import annotations

from typing import Any

from edge_runtime.server.arns import parse_arn
from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import MODEL, not_found, quota, validation
from edge_runtime.server.store import Transaction

MAX_TAGS = 200
RESERVED_PREFIX = "aws:"


def _model_arn(ctx: ServerContext, arn: str, tx: Transaction | None = None) -> str:
    """The ARN if it names an existing model of this server; else the documented error."""
    parsed = parse_arn(arn, ctx.arns)
    if parsed is None or parsed.kind != "model" or parsed.version is None or not parsed.version.isdigit():
        raise validation("ResourceArn must be a model ARN of this server like %s, got %r"
                         % (ctx.arns.model("my-project", 1), arn))
    sql, args = "SELECT arn FROM lv_models WHERE project = ? AND version = ?", (parsed.project, int(parsed.version))
    row = tx.one(sql, args) if tx is not None else ctx.store.query_one(sql, args)
    if row is None:
        raise not_found(MODEL, arn, "model %s does not exist" % arn)
    return arn


def check_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    """Tag list -> dict; keys must be unique and not use the reserved `aws:` prefix."""
    result: dict[str, str] = {}
    for tag in tags:
        if tag["Key"].lower().startswith(RESERVED_PREFIX):
            raise validation("tag keys starting with %r are reserved for AWS, got %r" % (RESERVED_PREFIX, tag["Key"]))
        if tag["Key"] in result:
            raise validation("tag key %r appears twice in one request" % tag["Key"])
        result[tag["Key"]] = tag["Value"]
    return result


def write_tags(tx: Transaction, arn: str, tags: dict[str, str]) -> None:
    existing = {r["key"] for r in tx.all("SELECT key FROM lv_tags WHERE resource_arn = ?", (arn,))}
    if len(existing | set(tags)) > MAX_TAGS:
        raise quota("a model holds at most %d tags; this request would make %d" % (MAX_TAGS, len(existing | set(tags))),
                    "L-TAGS", MODEL, arn)
    tx.executemany("INSERT OR REPLACE INTO lv_tags (resource_arn, key, value) VALUES (?, ?, ?)",
                   [(arn, k, v) for k, v in tags.items()])


def tag_resource(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    tags = check_tags(params["Tags"])
    with ctx.store.transaction() as tx:
        arn = _model_arn(ctx, params["ResourceArn"], tx)
        write_tags(tx, arn, tags)
    return {}


def untag_resource(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        arn = _model_arn(ctx, params["ResourceArn"], tx)
        tx.executemany("DELETE FROM lv_tags WHERE resource_arn = ? AND key = ?", [(arn, k) for k in params["TagKeys"]])
    return {}


def list_tags_for_resource(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    arn = _model_arn(ctx, params["ResourceArn"])
    rows = ctx.store.query("SELECT key, value FROM lv_tags WHERE resource_arn = ? ORDER BY key", (arn,))
    return {"Tags": [{"Key": r["key"], "Value": r["value"]} for r in rows]}


OPERATIONS = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
