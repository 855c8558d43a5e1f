"""Issue 13 item 10 from the CLI: heavy images are refused from their header (never decoded), a full
disk during compile says so, and a broken agent config is one readable line with exit code 2."""

from __future__ import annotations

import os
import struct
import subprocess
import time
import zlib

import pytest

from edge_runtime.cli.main import main
from tests.packaging.conftest import write_tiny_model


def png_with_size(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (its data is one short compressed row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
            + chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    import cv2

    def refuse(*args, **kwargs):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(cv2, "imdecode", refuse)


def test_detect_refuses_a_huge_image_from_its_header(tmp_path, capsys, no_decoding):
    path = tmp_path / "huge.png"
    path.write_bytes(png_with_size(30000, 30000))
    started = time.monotonic()
    code = main(["detect", str(path), "--model", "m", "--socket", "unix://" + str(tmp_path / "none.sock")])
    assert code == 2 and time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "64..4096 pixels a side, got 30000x30000" in err, err


def test_server_and_dataset_decoding_refuse_huge_images_from_their_header(no_decoding):
    from edge_runtime.datasets.images import decode_image
    from edge_runtime.errors import DatasetError

    with pytest.raises(DatasetError, match="30000x30000 pixels .*not decoded"):
        decode_image(png_with_size(30000, 30000), "request body")


@pytest.mark.parametrize("name, text, expected", [
    ("agent.yaml", "server:\n  socket: [unclosed\n", "is not valid YAML at line 3"),
    ("agent.yaml", "server: {max_workers: 1}\n", "server.max_workers must be 2..1024"),
    ("agent.yaml", "- a list\n", "top level must be a mapping"),
    ("agent.json", '{"server": ', "is not valid JSON"),
])
def test_a_bad_agent_config_is_one_line_and_exit_2(tmp_path, capsys, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    assert main(["agent", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "Traceback" not in err and len(err.splitlines()) == 1, err


@pytest.fixture
def tiny_disk(tmp_path):
    """A 4 MiB tmpfs; skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN) to fill a disk")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)  # lazy: a library may still map a file


# tmpfs counts 4 KiB pages: the tiny package copy needs 9 (36 KiB); with 8 left the copy fails, with 9
# ONNX Runtime's write of the optimised model fails (it says INVALID_PROTOBUF) or one after it.
@pytest.mark.parametrize("pages_left", [8, 9, 10])
def test_compile_on_a_full_disk_says_no_space_left(tmp_path, tiny_disk, capsys, pages_left):
    model = write_tiny_model(str(tmp_path / "model"), size=64)
    stats = os.statvfs(str(tiny_disk))
    with open(str(tiny_disk / "filler"), "wb") as fh:
        fh.write(b"\0" * (stats.f_bavail * stats.f_frsize - pages_left * 4096))
    code = main(["compile", "--model", model, "--target-platform", "Os=LINUX,Arch=X86_64",
                 "--output", str(tiny_disk / "compiled")])
    err = capsys.readouterr().err
    assert code == 2 and "no space left on device" in err, err
    assert "Traceback" not in err and "INVALID_PROTOBUF" not in err.split("(")[0]
    assert sorted(os.listdir(str(tiny_disk))) == ["filler"], "a partial output was left on the disk"
