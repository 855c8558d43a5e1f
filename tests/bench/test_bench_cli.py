"""`edge-runtime bench` for a few seconds against a real agent: JSON fields, counts that add up, plots."""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.cli.main import main
from edge_runtime.client import EdgeAgentClient

SHORT = ["--concurrency", "1,4", "--duration", "0.8", "--warmup", "0.3", "--size", "96x80"]


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _requests_seen(address: str, model: str) -> int:
    with EdgeAgentClient(address) as client:
        return sum(client.metrics()["models"].get(model, {}).get("requests", {}).values())


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["inline", "shm"])
def test_bench_against_the_agent(agent, tmp_path, capsys, transport):
    out_dir = str(tmp_path / "out")
    seen_before = _requests_seen(agent.address, "segment")
    rc = main(["bench", "--model", "segment", "--socket", agent.address, "--transport", transport,
               "--output", out_dir, *SHORT])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    result = _read_json(os.path.join(out_dir, "bench.json"))
    seen = _requests_seen(agent.address, "segment") - seen_before

    assert result["schema"] == "edge-runtime-bench/1"
    assert result["target"]["transport"] == transport and result["target"]["pid"] == os.getpid()
    assert result["image"] == {"source": "synthetic", "width": 96, "height": 80, "bytes": 96 * 80 * 3}
    assert [lv["concurrency"] for lv in result["levels"]] == [1, 4]
    for lv in result["levels"]:
        assert lv["ok"] > 0 and lv["errors"] == {}
        assert lv["ok"] + sum(lv["errors"].values()) == lv["requests"]
        assert lv["server"]["requests"] == lv["requests"] == lv["server"]["frames"]
        assert sum(lv["server"]["batch_size_buckets_le"].values()) == lv["server"]["batches"] > 0
        assert lv["throughput_rps"] == pytest.approx(lv["ok"] / lv["duration_s"], rel=0.01)
        lat = lv["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert sum(lv["latency_histogram"]["counts"]) == lv["ok"]
        assert lv["process"]["cpu_percent"] is not None and lv["process"]["rss_mb_max"] > 0
    totals = result["totals"]
    assert totals["requests"] == result["warmup"]["requests"] + sum(lv["requests"] for lv in result["levels"])
    assert totals["requests"] == totals["server_requests"] == seen
    assert os.path.getsize(os.path.join(out_dir, "bench-throughput-latency.png")) > 1000
    assert os.path.getsize(os.path.join(out_dir, "bench-latency-distribution.png")) > 1000
    table = captured.out.splitlines()
    assert table[0].split()[:2] == ["clients", "req/s"] and len(table) == 3
    assert "c=4" in captured.err  # the progress display


@pytest.mark.parametrize("instances", [1, 2])
def test_bench_in_process_uses_the_agents_batcher(tiny_packages, tmp_path, capsys, instances):
    out_dir = str(tmp_path / "out")
    rc = main(["bench", "--model", "classify", "--in-process", tiny_packages["classify"], "--output", out_dir,
               "--instances", str(instances), *SHORT])
    assert rc == 0, capsys.readouterr().err
    result = _read_json(os.path.join(out_dir, "bench.json"))
    assert result["target"]["kind"] == "in-process" and result["target"]["batching"] == "agent Batcher"
    assert result["target"]["instances"] == instances
    for lv in result["levels"]:
        assert lv["ok"] == lv["requests"] == lv["server"]["frames"] > 0
    assert result["totals"]["requests"] == result["totals"]["server_requests"]


def test_bench_bad_settings_exit_non_zero_with_one_clear_line(agent, tmp_path, capsys):
    bad_image = tmp_path / "bad.png"
    bad_image.write_bytes(b"not a png")
    base = ["bench", "--socket", agent.address, "--duration", "0.2", "--warmup", "0"]
    cases = [
        (base + ["--model", "segment", "--concurrency", "0"], "1..1024"),
        (base + ["--model", "segment", "--concurrency", "2,x"], "whole numbers"),
        (base + ["--model", "no-such-model"], "NOT_FOUND"),
        (base + ["--model", "segment", "--image", str(bad_image)], "not an image"),
        (base + ["--model", "segment", "--image", str(tmp_path / "missing.png")], "does not exist"),
        (base + ["--model", "segment", "--size", "10x10"], "64..4096"),
        (base + ["--model", "segment", "--duration", "0"], "--duration"),
        (["bench", "--model", "segment", "--socket", str(tmp_path / "none.sock")], "is `edge-runtime agent"),
        (["bench", "--model", "m", "--in-process", str(tmp_path), "--transport", "shm"], "--socket"),
        (["bench", "--model", "m", "--in-process", str(tmp_path)], "not a model package"),
        (base + ["--model", "segment", "--instances", "2"], "models.instances"),
        (["bench", "--model", "m", "--in-process", str(tmp_path), "--instances", "0"], "--instances must be 1..16"),
    ]
    with EdgeAgentClient(agent.address) as client:
        client.stop_model("classify")
    cases.append((base + ["--model", "classify"], "models start classify"))
    for argv, expected in cases:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc != 0, argv
        assert expected in err and "Traceback" not in err, (argv, err)
