"""Small inline SVG charts (no plotting library in the browser): bars over time and x-y curves."""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Sequence

W, H, PAD = 480, 200, 32


def bars(series: Sequence[tuple[int, int, int]], title: str) -> str:
    """(time, total, part) per bar: the total as a light bar, the part darker over it."""
    top = max((total for _, total, _ in series), default=1) or 1
    width = min((W - 2 * PAD) / max(len(series), 1), 36.0)
    parts = []
    for i, (start, total, part) in enumerate(series):
        x = PAD + i * width
        for value, css in ((total, "bar-total"), (part, "bar-part")):
            height = (H - 2 * PAD) * value / top
            parts.append('<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>'
                         % (css, x + 1, H - PAD - height, max(width - 2, 1), height,
                            dt.datetime.fromtimestamp(start, dt.timezone.utc).strftime("%m-%d %H:%M"), value))
    first = dt.datetime.fromtimestamp(series[0][0], dt.timezone.utc).strftime("%m-%d %H:%M") if series else ""
    return ('<svg class="plot" viewBox="0 0 %d %d" role="img" aria-label="%s">%s'
            '<text x="%d" y="%d" class="axis">%s</text><text x="4" y="%d" class="axis">%d</text></svg>'
            % (W, H, escape(title), "".join(parts), PAD, H - 8, first, PAD, top))


def curve(points: Sequence[tuple[float, float]], title: str, x_label: str, y_label: str,
          diagonal: bool = False) -> str:
    """A curve on [0, 1] x [0, 1] (ROC, precision-recall)."""
    size = H - 2 * PAD

    def xy(x: float, y: float) -> str:
        return "%.1f,%.1f" % (PAD + x * size, PAD + (1 - y) * size)

    path = " ".join(xy(x, y) for x, y in points)
    guide = '<line class="guide" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (PAD, PAD + size, PAD + size, PAD) \
        if diagonal else ""
    return ('<svg class="plot curve" viewBox="0 0 %d %d" role="img" aria-label="%s">'
            '<rect class="frame" x="%d" y="%d" width="%d" height="%d"/>%s<polyline class="line" points="%s"/>'
            '<text x="%d" y="%d" class="axis">%s</text><text x="4" y="%d" class="axis">%s</text></svg>'
            % (size + 2 * PAD, H, escape(title), PAD, PAD, size, size, guide, path, PAD, H - 8, escape(x_label),
               PAD - 8, escape(y_label)))


def roc_points(scores: Sequence[float], labels: Sequence[int]) -> list[tuple[float, float]]:
    """(false positive rate, true positive rate) for every threshold, from (0,0) to (1,1)."""
    pairs = sorted(zip(scores, labels), key=lambda p: -p[0])
    positives = sum(labels) or 1
    negatives = (len(labels) - sum(labels)) or 1
    tp = fp = 0
    points = [(0.0, 0.0)]
    for _, label in pairs:
        tp += label
        fp += 1 - label
        points.append((fp / negatives, tp / positives))
    return points


def pr_points(scores: Sequence[float], labels: Sequence[int]) -> list[tuple[float, float]]:
    """(recall, precision) for every threshold."""
    pairs = sorted(zip(scores, labels), key=lambda p: -p[0])
    positives = sum(labels) or 1
    tp = 0
    points = [(0.0, 1.0)]
    for seen, (_, label) in enumerate(pairs, start=1):
        tp += label
        points.append((tp / positives, tp / seen))
    return points
