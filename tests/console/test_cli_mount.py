"""`edge-runtime server` mounts the console at /console, and logs where to open it."""

from __future__ import annotations

from edge_runtime.cli.main import main
from edge_runtime.console import PREFIX, console_mount


def test_the_server_command_mounts_the_console(monkeypatch, tmp_path):
    seen = {}

    def fake_serve(config, mounts=None):
        seen["mounts"], seen["config"] = mounts, config
        return 0

    monkeypatch.setattr("edge_runtime.server.app.serve", fake_serve)
    assert main(["server", "--no-auth", "--data", str(tmp_path), "--address", "127.0.0.1:0"]) == 0
    assert seen["mounts"] == {PREFIX: console_mount} and not seen["config"].auth.enabled


def test_the_banner_names_a_one_time_link(server):
    banner = server.console.banner(server.url + PREFIX)
    token = banner.split("signin?token=")[1].rstrip(")")
    assert server.console.sessions.use_link(token) and not server.console.sessions.use_link(token)


def test_the_console_bucket_is_an_option(monkeypatch, tmp_path, server):
    seen = {}
    monkeypatch.setattr("edge_runtime.server.app.serve", lambda config, mounts=None: seen.update(mounts) or 0)
    assert main(["server", "--no-auth", "--data", str(tmp_path), "--console-bucket", "plant-7"]) == 0
    assert seen[PREFIX](server.context, server.server.dispatcher).bucket == "plant-7"
    assert server.console.bucket == "edge-runtime-console"
