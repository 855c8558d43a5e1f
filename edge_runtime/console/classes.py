"""A project's anomaly classes: those added in the console and those its datasets' colour maps name."""

from __future__ import annotations

import json
from typing import Any

from edge_runtime.console.lines import mask_of
from edge_runtime.console.state import AnomalyClass


def project_classes(console: Any, project: str, line: dict[str, Any]) -> list[AnomalyClass]:
    """The classes added in the console, then those the colour maps of the line and of the project's
    masked entries name (imported manifests), each name once, in a stable order."""
    classes = list(console.state.classes(project))
    known = {c.name for c in classes}
    rows = console.context.store.query("SELECT line FROM lv_dataset_entries WHERE project = ? AND "
                                       "instr(line, 'internal-color-map') > 0 ORDER BY id LIMIT 200", (project,))
    for other in [line] + [json.loads(r["line"]) for r in rows]:
        for name, color in mask_of(other)[1]:
            if name not in known:
                classes.append(AnomalyClass(name, color))
                known.add(name)
    return classes
