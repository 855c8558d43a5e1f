"""Learning-rate schedule shared by the heads' training loops."""

from __future__ import annotations

from typing import Any

import torch


def one_cycle(optimiser: torch.optim.Optimizer, max_lr: float, steps: int, pct_start: float) -> Any:
    """OneCycleLR that also works for very short runs.

    torch's OneCycleLR divides by zero when the warm-up phase is one step or less long (for example one
    epoch over a small dataset), so the warm-up is stretched to two steps, and runs under four steps
    train at a constant rate.
    """
    if steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda _: 1.0)
    if pct_start * steps < 2:
        pct_start = 2.0 / steps
    return torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=max_lr, total_steps=steps, pct_start=pct_start)
