"""`edge-runtime detect` and `edge-runtime models` in-process via main(argv), against the real daemon."""

from __future__ import annotations

import json

import cv2
import numpy as np

from edge_runtime.cli.main import main

SCRATCH_BGR = (0x36, 0xA4, 0x23)


def test_detect_prints_json_and_writes_the_mask(agent, red_png, tmp_path, capsys):
    mask_png = str(tmp_path / "mask.png")
    rc = main(["detect", red_png, "--model", "segment", "--socket", agent.address, "--mask-out", mask_png])
    out = capsys.readouterr().out
    assert rc == 0
    result = json.loads(out)
    assert result["is_anomalous"] is True and result["model"] == "segment"
    assert [a["name"] for a in result["anomalies"]] == ["background", "scratch"]
    assert result["mask"] == {"width": 128, "height": 96, "saved_to": mask_png}
    saved = cv2.imread(mask_png)
    assert saved.shape == (96, 128, 3) and (saved[:, -40:] == SCRATCH_BGR).all() and (saved[:, :40] == 255).all()


def test_detect_over_shared_memory_matches_inline(agent, red_png, tmp_path, capsys):
    assert main(["detect", red_png, "--model", "segment", "--socket", agent.address]) == 0
    inline = json.loads(capsys.readouterr().out)
    mask_png = str(tmp_path / "mask-shm.png")
    assert main(["detect", red_png, "--model", "segment", "--socket", agent.address, "--shm",
                 "--mask-out", mask_png]) == 0
    shm = json.loads(capsys.readouterr().out)
    assert shm["anomaly_score"] == inline["anomaly_score"] and shm["anomalies"] == inline["anomalies"]
    assert cv2.imread(mask_png).shape == (96, 128, 3)


def test_detect_bad_input_is_one_clear_line(agent, red_png, tmp_path, capsys):
    cases = [
        (["detect", str(tmp_path / "nope.png"), "--model", "segment", "--socket", agent.address], "does not exist"),
        (["detect", red_png, "--model", "nope", "--socket", agent.address], "NOT_FOUND"),
        (["detect", red_png, "--model", "segment", "--socket", str(tmp_path / "none.sock")], "is `edge-runtime agent"),
        (["detect", red_png, "--model", "classify", "--socket", agent.address, "--mask-out",
          str(tmp_path / "m.png")], "no mask"),
    ]
    for argv, expected in cases:
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc != 0, argv
        assert expected in err and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m.png").exists()


def test_models_list_start_describe_stop_metrics(start_agent, capsys):
    running = start_agent()
    sock = ["--socket", running.address]
    assert main(["models", "list", *sock]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["MODEL", "STATUS", "MESSAGE"]
    assert sorted(line.split()[:2] for line in table[1:]) == [["classify", "STOPPED"], ["segment", "STOPPED"]]

    assert main(["models", "start", "classify", "--wait", *sock]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("classify: RUNNING")
    assert main(["models", "describe", "classify", *sock]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "RUNNING"
    assert main(["models", "list", "--json", *sock]) == 0
    listed = {m["model_component"]: m["status"] for m in json.loads(capsys.readouterr().out)}
    assert listed == {"classify": "RUNNING", "segment": "STOPPED"}

    frame = np.zeros((64, 64, 3), dtype=np.uint8)
    from edge_runtime.client import EdgeAgentClient

    with EdgeAgentClient(running.address) as client:
        client.detect("classify", frame, color_order="RGB")
    assert main(["models", "metrics", *sock]) == 0
    assert json.loads(capsys.readouterr().out)["models"]["classify"]["requests"] == {"OK": 1}
    assert main(["models", "metrics", "--format", "prometheus", *sock]) == 0
    assert "# TYPE edge_agent_batch_size histogram" in capsys.readouterr().out

    assert main(["models", "stop", "classify", *sock]) == 0
    assert capsys.readouterr().out.strip() == "classify: STOPPED"
    rc = main(["models", "stop", "classify", *sock])
    err = capsys.readouterr().err
    assert rc != 0 and "FAILED_PRECONDITION" in err and "Traceback" not in err
    rc = main(["models", "describe", "ghost", *sock])
    assert rc != 0 and "NOT_FOUND" in capsys.readouterr().err
