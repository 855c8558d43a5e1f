"""Per-project figures from the hosted models' detections (the server counts them per minute)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge_runtime.console.layout import e
from edge_runtime.console.plots import bars


@dataclass(frozen=True)
class Activity:
    images: int
    anomalies: int
    series: list[tuple[int, int, int]]  # (bucket start in seconds, images, anomalies)

    @property
    def ratio(self) -> float:
        return self.anomalies / self.images if self.images else 0.0


def activity(store: Any, project: str, bucket_s: int = 3600, buckets: int = 48) -> Activity:
    rows = store.query("SELECT minute, SUM(images) AS images, SUM(anomalies) AS anomalies FROM lv_detections "
                       "WHERE project = ? GROUP BY minute ORDER BY minute", (project,))
    images = sum(int(r["images"]) for r in rows)
    anomalies = sum(int(r["anomalies"]) for r in rows)
    grouped: dict[int, list[int]] = {}
    for row in rows:
        start = int(row["minute"]) * 60 // bucket_s * bucket_s
        counts = grouped.setdefault(start, [0, 0])
        counts[0] += int(row["images"])
        counts[1] += int(row["anomalies"])
    series = [(start, c[0], c[1]) for start, c in sorted(grouped.items())][-buckets:]
    return Activity(images, anomalies, series)


def panel(store: Any, project: str) -> str:
    figures = activity(store, project)
    stats = ('<dl class="stats"><div><dt>Images processed</dt><dd id="images-processed">%d</dd></div>'
             '<div><dt>Anomalies found</dt><dd id="anomalies-found">%d</dd></div>'
             '<div><dt>Anomaly ratio</dt><dd id="anomaly-ratio">%.1f%%</dd></div></dl>'
             % (figures.images, figures.anomalies, 100 * figures.ratio))
    if not figures.series:
        return stats + '<p class="empty">No detections yet: host a model and send it images.</p>'
    chart = bars([(start, images, anomalies) for start, images, anomalies in figures.series],
                 "detections per hour (anomalies darker)")
    return stats + '<figure class="chart">%s<figcaption>%s</figcaption></figure>' % (
        chart, e("Detections per hour, from the hosted models of this project"))
