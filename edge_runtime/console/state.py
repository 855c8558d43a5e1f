"""The console's own tables in the server's state file: anomaly classes per project and trial detections.

Everything else the console shows (projects, datasets, models, jobs) is the REST API's state.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

SUBSYSTEM = "console"
SCHEMA_VERSION = 1
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS console_classes (project TEXT NOT NULL, name TEXT NOT NULL, color TEXT NOT NULL, "
    "position INTEGER NOT NULL, PRIMARY KEY (project, name))",
    "CREATE TABLE IF NOT EXISTS console_trials (id INTEGER PRIMARY KEY AUTOINCREMENT, project TEXT NOT NULL, "
    "version INTEGER NOT NULL, created REAL NOT NULL, name TEXT NOT NULL, image_ref TEXT NOT NULL, "
    "mask_ref TEXT, anomalous INTEGER NOT NULL, confidence REAL NOT NULL, anomalies TEXT NOT NULL, "
    "verdict TEXT, label INTEGER, added INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS console_trials_model ON console_trials (project, version)",
)


@dataclass(frozen=True)
class AnomalyClass:
    name: str
    color: str  # #rrggbb


class ConsoleState:
    def __init__(self, store: Any) -> None:
        self.store = store
        store.database.ensure_schema(SUBSYSTEM, SCHEMA_VERSION, _SCHEMA)

    def classes(self, project: str) -> list[AnomalyClass]:
        rows = self.store.query("SELECT name, color FROM console_classes WHERE project = ? ORDER BY position",
                                (project,))
        return [AnomalyClass(r["name"], r["color"]) for r in rows]

    def add_class(self, project: str, cls: AnomalyClass) -> bool:
        """False when the project already has a class of that name."""
        with self.store.transaction() as tx:
            if tx.one("SELECT name FROM console_classes WHERE project = ? AND name = ?", (project, cls.name)):
                return False
            row = tx.one("SELECT COALESCE(MAX(position), 0) + 1 FROM console_classes WHERE project = ?", (project,))
            tx.execute("INSERT INTO console_classes (project, name, color, position) VALUES (?, ?, ?, ?)",
                       (project, cls.name, cls.color, int(row[0]) if row else 1))
        return True

    def add_trial(self, project: str, version: int, name: str, image_ref: str, mask_ref: str | None,
                  result: dict[str, Any]) -> int:
        anomalies = [{"name": a["Name"], "area": a["PixelAnomaly"]["TotalPercentageArea"],
                      "color": a["PixelAnomaly"]["Color"]} for a in result.get("Anomalies") or []]
        with self.store.transaction() as tx:
            cursor = tx.execute(
                "INSERT INTO console_trials (project, version, created, name, image_ref, mask_ref, anomalous, "
                "confidence, anomalies) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (project, version, time.time(), name, image_ref, mask_ref, int(bool(result["IsAnomalous"])),
                 float(result["Confidence"]), json.dumps(anomalies)))
            return int(cursor.lastrowid or 0)

    def trials(self, project: str, version: int, order: str = "created") -> list[Any]:
        column = {"confidence": "confidence ASC", "created": "id DESC"}.get(order, "id DESC")
        return self.store.query("SELECT * FROM console_trials WHERE project = ? AND version = ? ORDER BY %s"
                                % column, (project, version))

    def trial(self, trial_id: int) -> Any:
        return self.store.query_one("SELECT * FROM console_trials WHERE id = ?", (trial_id,))

    def verify(self, trial_id: int, verdict: str, label: int | None) -> None:
        with self.store.transaction() as tx:
            tx.execute("UPDATE console_trials SET verdict = ?, label = ? WHERE id = ?", (verdict, label, trial_id))

    def mark_added(self, ids: list[int]) -> None:
        with self.store.transaction() as tx:
            tx.executemany("UPDATE console_trials SET added = 1 WHERE id = ?", [(i,) for i in ids])
