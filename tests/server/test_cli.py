"""`edge-runtime server` as a real process: generated credentials, SIGTERM, and a restart that keeps the state."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from edge_runtime.cli.main import main
from edge_runtime.server.credentials import parse_access_keys


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data: str, port: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "edge_runtime", "server", "--address", "127.0.0.1:%d" % port,
                                "--data", data], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("server exited: %s" % process.stdout.read())  # type: ignore[union-attr]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not listen on port %d" % port)


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def _client(port: int, credentials: str):
    import boto3

    with open(credentials) as handle:
        (key_id, secret), = parse_access_keys(handle.read(), credentials).items()
    return boto3.session.Session().client("lookoutvision", endpoint_url="http://127.0.0.1:%d" % port,
                                          region_name="us-east-1", aws_access_key_id=key_id,
                                          aws_secret_access_key=secret)


@pytest.mark.slow
def test_server_process_generates_keys_stops_on_sigterm_and_keeps_state(tmp_path, aws_data_path):
    data, port = str(tmp_path / "data"), _free_port()
    process = _start(data, port)
    try:
        credentials = os.path.join(data, "server-credentials")
        assert oct(os.stat(credentials).st_mode & 0o777) == "0o600"
        _client(port, credentials).create_project(ProjectName="kept")
    finally:
        output = _stop(process)
    assert "server-credentials" in output and "Lookout for Vision API on http://127.0.0.1:%d" % port in output
    process = _start(data, port)
    try:
        projects = _client(port, credentials).list_projects()["Projects"]
        assert [p["ProjectName"] for p in projects] == ["kept"]
    finally:
        _stop(process)


def test_no_auth_is_refused_off_loopback(tmp_path, capsys):
    assert main(["server", "--address", "0.0.0.0:0", "--no-auth", "--data", str(tmp_path)]) == 2
    assert "loopback" in capsys.readouterr().err


def test_access_key_files_in_both_formats():
    assert parse_access_keys("AKIA1:s1\nAKIA2 s2\n", "f") == {"AKIA1": "s1", "AKIA2": "s2"}
    ini = "[x]\naws_access_key_id = AKIA3\naws_secret_access_key = s3\n"
    assert parse_access_keys(ini, "f") == {"AKIA3": "s3"}
    with pytest.raises(Exception, match="ID:SECRET"):
        parse_access_keys("AKIA4\n", "f")


def test_printed_aws_data_path_builds_a_lookoutvision_client(capsys, monkeypatch):
    """What the README tells users: AWS_DATA_PATH=$(edge-runtime server --print-aws-data-path)."""
    import boto3

    assert main(["server", "--print-aws-data-path"]) == 0
    path = capsys.readouterr().out.strip()
    assert os.path.isfile(os.path.join(path, "lookoutvision", "2020-11-20", "service-2.json"))
    monkeypatch.setenv("AWS_DATA_PATH", path)
    client = boto3.session.Session().client("lookoutvision", endpoint_url="http://127.0.0.1:9",
                                            region_name="us-east-1", aws_access_key_id="a",
                                            aws_secret_access_key="b")
    assert client.can_paginate("list_projects")
    assert "detect_anomalies" in dir(client)


def test_connection_limits_are_checked_from_the_command_line(tmp_path, capsys):
    assert main(["server", "--address", "127.0.0.1:0", "--data", str(tmp_path), "--max-connections", "0"]) == 2
    assert "max_connections 1..4096" in capsys.readouterr().err
