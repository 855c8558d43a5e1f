"""Small PNG images for the console tests."""

from __future__ import annotations

import cv2
import numpy as np


def png(size: int = 64, red: int = 40, seed: int = 0, width: int | None = None) -> bytes:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 30, (size, width or size, 3), dtype=np.uint8)
    image[:, :, 2] = np.clip(image[:, :, 2].astype(int) + red, 0, 255).astype(np.uint8)  # BGR: red channel
    ok, data = cv2.imencode(".png", image)
    assert ok
    return bytes(data.tobytes())


def write_folder(root: str, normal: int, anomaly: int) -> None:
    import os

    for sub, count, red in (("normal", normal, 10), ("anomaly", anomaly, 220)):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        for i in range(count):
            with open(os.path.join(root, sub, "%s-%02d.png" % (sub, i)), "wb") as handle:
                handle.write(png(red=red, seed=i))
