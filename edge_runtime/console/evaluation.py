"""A model's evaluation: Lookout's metrics, ROC and precision-recall curves, and the test images
grouped into false positives, false negatives and correct, each with its score and predicted mask.

Everything comes from the EvaluationResult and EvaluationManifest files training wrote (the ones
boto3 users download), so a model trained through the REST API shows here the same way.
"""

from __future__ import annotations

import json
from typing import Any

from edge_runtime.console.files import object_url, read_object
from edge_runtime.console.http import ConsoleError, HttpResponse, Request, html, url
from edge_runtime.console.layout import e, page, table
from edge_runtime.console.lines import label_of
from edge_runtime.console.models import MODEL, _describe
from edge_runtime.console.plots import curve, pr_points, roc_points
from edge_runtime.server.objects import s3_uri

DETECTED = "anomaly-label-detected"
GROUPS = (("false-positives", "False positives (normal, predicted anomaly)"),
          ("false-negatives", "False negatives (anomaly, predicted normal)"), ("correct", "Correct"))


def _document(console: Any, location: dict[str, str] | None, what: str) -> bytes:
    if not location:
        raise ConsoleError("the model has no %s yet (it is written when training finishes)" % what, 404)
    return read_object(console, s3_uri(location["Bucket"], location["Key"]))


def test_results(manifest: bytes) -> list[dict[str, Any]]:
    """Per test image: reference, truth, prediction, anomaly score, group."""
    results = []
    for text in manifest.decode("utf-8").splitlines():
        if not text.strip():
            continue
        line = json.loads(text)
        truth, predicted = label_of(line), int(line.get(DETECTED, 0))
        confidence = float((line.get(DETECTED + "-metadata") or {}).get("confidence", 0.5))
        score = confidence if predicted else 1.0 - confidence
        group = "correct" if truth == predicted else ("false-positives" if predicted else "false-negatives")
        results.append({"ref": line["source-ref"], "truth": truth, "predicted": predicted, "score": score,
                        "group": group, "masked": bool(line.get("anomaly-mask-ref"))})
    return results


def _metrics(result: dict[str, Any]) -> str:
    aggregated = (result.get("AggregatedEvaluationResults") or {}).get("Metrics") or {}
    names = (("Precision", "Precision"), ("Recall", "Recall"), ("F1Score", "F1 score"), ("ROCAUC", "ROC AUC"),
             ("AveragePrecision", "Average precision"))
    stats = "".join('<div><dt>%s</dt><dd data-metric="%s">%.3f</dd></div>' % (label, key, aggregated[key])
                    for key, label in names if isinstance(aggregated.get(key), (int, float)))
    pixels = aggregated.get("PixelAnomalyClassMetrics") or []
    rows = [[e(p.get("ClassName"))] + ["%.3f" % p[k] if isinstance(p.get(k), (int, float)) else ""
                                       for k in ("Precision", "Recall", "F1Score", "AIOU")] for p in pixels]
    details = result.get("EvaluationDetails") or {}
    counts = '<p class="hint">%s training images, %s test images; evaluated %s</p>' % (
        e(details.get("NumberOfTrainingImages")), e(details.get("NumberOfTestingImages")),
        e(details.get("EvaluationEndTimestamp")))
    pixel_table = ("<h3>Per-class pixel metrics</h3>" + table(["Class", "Precision", "Recall", "F1", "Average IoU"],
                                                               rows)) if rows else ""
    return '<dl class="stats">%s</dl>%s%s' % (stats, counts, pixel_table)


def _tile(project: str, version: str, item: dict[str, Any], segmentation: bool) -> str:
    overlay = ""
    if segmentation:
        overlay = '<img class="mask" alt="" loading="lazy" src="%s">' % e(
            url("/p/%s/m/%s/predicted-mask" % (project, version), ref=item["ref"]))
    truth = {0: "normal", 1: "anomaly"}.get(item["truth"], "?")
    return ('<div class="tile" data-group="%s"><div class="frame"><img alt="test image" loading="lazy" src="%s">%s'
            '</div><div class="caption"><span>%s → <span class="label-%s">%s</span></span><span>score %.2f</span>'
            '</div></div>' % (item["group"], e(object_url(item["ref"], 160)), overlay, truth,
                              "anomaly" if item["predicted"] else "normal",
                              "anomaly" if item["predicted"] else "normal", item["score"]))


def evaluation_page(console: Any, request: Request, project: str, version: str) -> HttpResponse:
    model = _describe(console, project, version)
    result = json.loads(_document(console, model.get("EvaluationResult"), "evaluation result"))
    results = test_results(_document(console, model.get("EvaluationManifest"), "evaluation manifest"))
    segmentation = any(r["masked"] for r in results) or bool(
        (result.get("AggregatedEvaluationResults") or {}).get("Metrics", {}).get("PixelAnomalyClassMetrics"))
    labelled = [r for r in results if r["truth"] in (0, 1)]
    scores, truths = [r["score"] for r in labelled], [int(r["truth"]) for r in labelled]
    plots = ('<div class="plots"><figure>%s<figcaption>ROC curve</figcaption></figure><figure>%s<figcaption>'
             'Precision-recall curve</figcaption></figure></div>'
             % (curve(roc_points(scores, truths), "ROC curve", "false positive rate", "true positive rate", True),
                curve(pr_points(scores, truths), "precision-recall curve", "recall", "precision")))
    groups = []
    for key, title in GROUPS:
        items = sorted((r for r in results if r["group"] == key), key=lambda r: -abs(r["score"] - 0.5))
        tiles = "".join(_tile(project, version, r, segmentation) for r in items)
        groups.append('<section class="groups" id="%s"><h3>%s: %d</h3><div class="grid">%s</div></section>'
                      % (key, e(title), len(items), tiles or '<p class="empty">none</p>'))
    body = "<section><h2>Metrics</h2>%s%s</section>%s" % (_metrics(result), plots, "".join(groups))
    base = "/p/%s/m/%s" % (project, version)
    return html(page("%s · model %s evaluation" % (project, version), body, request.session,
                     [(project, url("/p/" + project)), ("model " + version, url(base)),
                      ("evaluation", url(base + "/evaluation"))], ["console.js"]))


ROUTES = [("GET", MODEL + "/evaluation", evaluation_page)]
