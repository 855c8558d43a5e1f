"""Which models were running, kept in a small JSON file so an agent restart brings them back.

Written atomically (temp file then rename). A state file that cannot be read or written is logged
and otherwise ignored: losing autostart must not stop the agent from serving.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Iterable, List

log = logging.getLogger(__name__)
FORMAT_VERSION = 1


def read_running(path: str) -> List[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        log.warning("ignoring agent state file %s: %s", path, exc)
        return []
    running = data.get("running") if isinstance(data, dict) else None
    if not isinstance(running, list) or not all(isinstance(n, str) for n in running):
        log.warning("ignoring agent state file %s: expected {\"running\": [names]}", path)
        return []
    return running


def write_running(path: str, names: Iterable[str]) -> bool:
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"format_version": FORMAT_VERSION, "running": sorted(set(names))}, fh)
            fh.write("\n")
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("cannot write agent state file %s: %s", path, exc)
        return False
