"""StartModel, StopModel, DetectAnomalies.

TRAINED -> STARTING_HOSTING -> HOSTED (or HOSTING_FAILED with the reason); HOSTED -> STOPPING_HOSTING
-> TRAINED. Models that were hosted when the server stopped are hosted again at start-up, so a
restart loses nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from edge_runtime.errors import EdgeRuntimeError
from edge_runtime.server.context import ServerContext
from edge_runtime.server.errors import MODEL, conflict, validation
from edge_runtime.server.hosted import HostedModels, decode_request_image, detect, load_hosted
from edge_runtime.server.operations.common import model_row

log = logging.getLogger(__name__)
STARTABLE = ("TRAINED", "HOSTING_FAILED")
RUNNING = ("STARTING_HOSTING", "HOSTED")


def _hosted(ctx: ServerContext) -> HostedModels:
    return ctx.services["hosting"]  # type: ignore[no-any-return]


def _key(project: str, version: int) -> str:
    return "%s/%d" % (project, version)


def _set(ctx: ServerContext, project: str, version: int, expected: str, status: str, message: str) -> bool:
    with ctx.store.transaction() as tx:
        return tx.execute("UPDATE lv_models SET status = ?, status_message = ? WHERE project = ? AND version = ? AND "
                          "status = ?", (status, message[:2000], project, version, expected)).rowcount > 0


def _load(ctx: ServerContext, project: str, version: int, package_dir: str) -> None:
    try:
        model = load_hosted(package_dir)
    except EdgeRuntimeError as exc:
        _set(ctx, project, version, "STARTING_HOSTING", "HOSTING_FAILED", str(exc))
        return
    except Exception as exc:  # record the reason on the model rather than leave it starting forever
        log.exception("hosting %s/%d failed", project, version)
        _set(ctx, project, version, "STARTING_HOSTING", "HOSTING_FAILED", "internal error: %s" % exc)
        return
    _hosted(ctx).put(_key(project, version), model)
    if not _set(ctx, project, version, "STARTING_HOSTING", "HOSTED", "The model is running (%s)." % model.note):
        _hosted(ctx).remove(_key(project, version))  # stopped while it was loading


def _spawn_load(ctx: ServerContext, project: str, version: int, package_dir: str) -> None:
    ctx.background.spawn("host-%s-%d" % (project, version), lambda: _load(ctx, project, version, package_dir))


def start_model(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    low, high = params["MinInferenceUnits"], params.get("MaxInferenceUnits")
    if high is not None and high < low:
        raise validation("MaxInferenceUnits (%d) must not be less than MinInferenceUnits (%d)" % (high, low))
    with ctx.store.transaction() as tx:
        row = model_row(ctx, params["ProjectName"], params["ModelVersion"], tx)
        if row["status"] in RUNNING:
            return {"Status": row["status"]}
        if row["status"] not in STARTABLE:
            raise conflict(MODEL, row["arn"], "model %s is %s; only a TRAINED model can be started"
                           % (row["arn"], row["status"]))
        tx.execute("UPDATE lv_models SET status = 'STARTING_HOSTING', status_message = 'loading the model', "
                   "min_inference_units = ?, max_inference_units = ? WHERE project = ? AND version = ?",
                   (low, high, row["project"], row["version"]))
    _spawn_load(ctx, row["project"], int(row["version"]), row["package_dir"])
    return {"Status": "STARTING_HOSTING"}


def stop_model(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.transaction() as tx:
        row = model_row(ctx, params["ProjectName"], params["ModelVersion"], tx)
        if row["status"] not in RUNNING + ("HOSTING_FAILED",):
            raise conflict(MODEL, row["arn"], "model %s is %s, not running" % (row["arn"], row["status"]))
        tx.execute("UPDATE lv_models SET status = 'STOPPING_HOSTING', status_message = 'stopping' WHERE project = ? "
                   "AND version = ?", (row["project"], row["version"]))
    project, version = row["project"], int(row["version"])

    def stop() -> None:
        _hosted(ctx).remove(_key(project, version))
        _set(ctx, project, version, "STOPPING_HOSTING", "TRAINED", "The model was stopped.")

    ctx.background.spawn("stop-%s-%d" % (project, version), stop)
    return {"Status": "STOPPING_HOSTING"}


def detect_anomalies(ctx: ServerContext, params: dict[str, Any]) -> dict[str, Any]:
    row = model_row(ctx, params["ProjectName"], params["ModelVersion"])
    hosted = _hosted(ctx).get(_key(row["project"], int(row["version"])))
    if row["status"] != "HOSTED" or hosted is None:
        raise conflict(MODEL, row["arn"], "model %s is %s; start it with StartModel and wait for HOSTED"
                       % (row["arn"], row["status"]))
    try:
        image = decode_request_image(params["Body"], params["ContentType"])
    except EdgeRuntimeError as exc:
        raise validation(str(exc)) from None
    result = detect(hosted, image)
    _count_detection(ctx, row["project"], int(row["version"]), bool(result["IsAnomalous"]))
    return {"DetectAnomalyResult": result}


def _count_detection(ctx: ServerContext, project: str, version: int, anomalous: bool) -> None:
    """Detections per model and minute: what the console's dashboard plots (no images are kept)."""
    with ctx.store.transaction() as tx:
        tx.execute("INSERT INTO lv_detections (project, version, minute, images, anomalies) VALUES (?, ?, ?, 1, ?) "
                   "ON CONFLICT (project, version, minute) DO UPDATE SET images = images + 1, "
                   "anomalies = anomalies + excluded.anomalies", (project, version, int(time.time() // 60),
                                                                  int(anomalous)))


def recover(ctx: ServerContext) -> None:
    """Host again what was hosted; finish stops a restart interrupted."""
    ctx.services["hosting"] = HostedModels()
    with ctx.store.transaction() as tx:
        tx.execute("UPDATE lv_models SET status = 'TRAINED', status_message = 'The model was stopped.' "
                   "WHERE status = 'STOPPING_HOSTING'")
        rows = tx.all("SELECT project, version, package_dir FROM lv_models WHERE status IN ('HOSTED', "
                      "'STARTING_HOSTING')")
        tx.execute("UPDATE lv_models SET status = 'STARTING_HOSTING', status_message = 'hosting again after a "
                   "server restart' WHERE status IN ('HOSTED', 'STARTING_HOSTING')")
    for row in rows:
        _spawn_load(ctx, row["project"], int(row["version"]), row["package_dir"])


def shutdown(ctx: ServerContext) -> None:
    if "hosting" in ctx.services:
        _hosted(ctx).close_all()


OPERATIONS = {
    "StartModel": start_model,
    "StopModel": stop_model,
    "DetectAnomalies": detect_anomalies,
}
