"""A stand-in trainer that reports progress the way the real one does (edge_runtime.progress lines) and
then waits until the test lets it finish, so the test can watch the model's live status."""

from __future__ import annotations

import threading

from edge_runtime.progress import Progress
from edge_runtime.server.training import TrainingJob
from tests.server.fake_training import train

TRAINER = "tests.console.progress_training:train_slowly"
RELEASE = threading.Event()


def train_slowly(job: TrainingJob) -> str:
    progress = Progress("train", 3, every=0.0)
    progress.step(note="loss 0.700")
    if not RELEASE.wait(60):
        raise TimeoutError("the test never released the trainer")
    progress.step(2, note="loss 0.100")
    return train(job)
