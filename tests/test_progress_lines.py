"""progress.lines_to: a thread's progress lines reach a sink (the server's live training status)."""

from __future__ import annotations

import io
import threading

from edge_runtime.progress import Progress, lines_to


def test_lines_made_inside_the_block_reach_the_sink_and_other_threads_do_not():
    seen: list[str] = []
    other = io.StringIO()

    def elsewhere() -> None:
        Progress("other", 1, stream=other).step()

    with lines_to(seen.append):
        Progress("train", 2, every=0.0).step(note="loss 0.3")
        worker = threading.Thread(target=elsewhere)
        worker.start()
        worker.join()
        Progress("train", 1).message("done")
    Progress("after", 1).message("not seen")
    assert len(seen) == 2 and seen[0].startswith("[train] 1/2 loss 0.3 elapsed") and seen[1] == "[train] done"
    assert "[other] 1/1" in other.getvalue()
