"""ModelRegistry without gRPC: memory budget under concurrent starts, autostart switch, state file
robustness, and the memory estimate against a measured load (real ONNX Runtime, tiny models)."""

from __future__ import annotations

import os
import threading

import pytest

from edge_runtime.agent import state
from edge_runtime.agent.config import BatchingConfig, ModelsConfig
from edge_runtime.agent.memory import MB, estimate_model_bytes
from edge_runtime.agent.metrics import resident_memory_bytes
from edge_runtime.agent.registry import ModelRegistry
from edge_runtime.errors import InvalidArgument, ResourceExhausted
from edge_runtime.modelpkg.manifest import read_manifest
from tests.agent.conftest import make_models_root


def registry_for(tmp_path, packages, **models):
    root = make_models_root(str(tmp_path / "models"), packages)
    return ModelRegistry(ModelsConfig(models_root=root, **models), BatchingConfig())


def test_concurrent_starts_share_the_memory_budget_atomically(tmp_path, tiny_packages):
    registry = registry_for(tmp_path, tiny_packages, memory_budget_mb=60)
    results, barrier = {}, threading.Barrier(2)

    def start(name):
        barrier.wait()
        try:
            results[name] = registry.start(name)
        except ResourceExhausted as exc:
            results[name] = str(exc)

    threads = [threading.Thread(target=start, args=(n,)) for n in ("classify", "segment")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(v[:8] for v in results.values()) == ["STARTING", "not enou"], results
    assert registry.wait_until_settled(30)
    registry.shutdown()


def test_autostart_off_and_unreadable_state_files(tmp_path, tiny_packages):
    registry = registry_for(tmp_path, tiny_packages, autostart=False)
    state.write_running(registry.config.state_path, ["classify"])
    assert registry.restore() == []
    assert registry.describe("classify").status == "STOPPED"
    with open(registry.config.state_path, "w") as fh:
        fh.write("{broken")
    assert state.read_running(registry.config.state_path) == []
    with open(registry.config.state_path, "w") as fh:
        fh.write('{"running": "classify"}')
    assert state.read_running(registry.config.state_path) == []
    assert not state.write_running(os.path.join(registry.config.state_path, "under-a-file.json"), ["x"])


def test_names_are_validated_and_odd_folders_ignored(tmp_path, tiny_packages):
    registry = registry_for(tmp_path, tiny_packages)
    root = registry.config.models_root
    os.makedirs(os.path.join(root, "no-manifest"))
    os.makedirs(os.path.join(root, ".hidden"))
    assert [v.name for v in registry.list_models()] == ["classify", "segment"]
    with pytest.raises(InvalidArgument, match="1-128 characters"):
        registry.describe("a b")


def test_memory_estimate_covers_a_measured_load(tiny_packages):
    from edge_runtime.runtime.factory import PredictorOptions, create_predictor
    from edge_runtime.runtime.loader import load_package

    folder = tiny_packages["segment"]
    estimate = estimate_model_bytes(folder, read_manifest(folder), 8)
    assert estimate >= 48 * MB + 8 * 64 * 64 * 3 * 5
    before = resident_memory_bytes()
    predictor = create_predictor(load_package(folder), PredictorOptions(max_batch_size=8))
    predictor.load()
    predictor.warmup()
    measured = resident_memory_bytes() - before
    predictor.close()
    assert measured < estimate, (measured // MB, estimate // MB)  # earlier sessions may have freed memory
