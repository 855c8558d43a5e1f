"""The bench's pure parts and its process sampler (a real child process, real psutil)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from edge_runtime.bench.procstats import ProcessSampler, peer_pid
from edge_runtime.bench.stats import bucket_delta, latency_histogram, latency_summary


def test_bucket_delta_turns_cumulative_snapshots_into_per_bucket_counts():
    before = {"1": 2, "2": 2, "4": 5, "8": 5, "+Inf": 5}
    after = {"1": 3, "2": 6, "4": 9, "8": 12, "+Inf": 12}
    assert bucket_delta(before, after) == {"1": 1, "2": 3, "8": 3}


def test_bucket_delta_orders_bounds_numerically_as_the_agent_json_sorts_them_as_text():
    before = {"+Inf": 10, "1": 4, "16": 10, "2": 7, "4": 10, "8": 10}
    after = {"+Inf": 25, "1": 6, "16": 25, "2": 12, "4": 20, "8": 24}
    delta = bucket_delta(before, after)
    assert delta == {"1": 2, "2": 3, "4": 5, "8": 4, "16": 1}
    assert all(n > 0 for n in delta.values()) and sum(delta.values()) == 25 - 10


def test_latency_summary_and_histogram():
    latencies = [0.001 * i for i in range(1, 101)]
    summary = latency_summary(latencies)
    assert summary["min"] == 1.0 and summary["max"] == 100.0
    assert summary["p50"] == pytest.approx(50.5) and summary["p99"] == pytest.approx(99.01)
    hist = latency_histogram(latencies)
    assert sum(hist["counts"]) == 100 and len(hist["edges_ms"]) == len(hist["counts"]) + 1
    assert latency_summary([])["p99"] is None


def test_sampler_counts_child_processes_when_asked(tmp_path):
    ready = str(tmp_path / "allocated")
    code = ("import time; x = bytearray(200 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); "
            "open(%r, 'w').close(); time.sleep(60)" % ready)
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys; subprocess.run([sys.executable, "
                               "'-c', %r])" % code], start_new_session=True)
    try:
        # Wait for the grandchild's allocation rather than a fixed time: under aarch64 emulation
        # (scripts/test-arm64.sh) starting two interpreters takes seconds.
        deadline = time.monotonic() + 60
        while not os.path.exists(ready):
            assert parent.poll() is None and time.monotonic() < deadline, "the grandchild never allocated"
            time.sleep(0.05)
        alone, tree = ProcessSampler(parent.pid, gpu=False), ProcessSampler(parent.pid, gpu=False, children=True)
        alone.start()
        tree.start()
        time.sleep(0.6)
        alone_out, tree_out = alone.stop(), tree.stop()
    finally:
        os.killpg(parent.pid, signal.SIGKILL)  # the parent and the grandchild
        parent.wait()
    assert tree_out["rss_mb_max"] > alone_out["rss_mb_max"] + 150
    assert alone_out["cpu_percent"] is not None


def test_peer_pid_names_the_listening_process(tmp_path):
    import socket

    path = str(tmp_path / "s.sock")
    if len(path) > 100:
        pytest.skip("tmp path too long for a Unix socket")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    try:
        assert peer_pid("unix://" + path) == os.getpid()
        assert peer_pid("unix://" + str(tmp_path / "none.sock")) is None
        assert peer_pid("127.0.0.1:5000") is None
    finally:
        server.close()
