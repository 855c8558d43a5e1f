"""Lookout's dataset limits: checked from headers before training, every problem reported at once."""

from __future__ import annotations

import json
import zlib

import pytest

from edge_runtime.datasets import limits
from edge_runtime.datasets.limits import check_limits, check_project, read_header
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.errors import DatasetError
from tests.datasets.builders import classification_set, cls_line, segmentation_set, textured, write_image

COLORS = {"scratch": "#23A436", "dent": "#14A3B3"}


def _problems(dataset, role="single") -> str:
    with pytest.raises(DatasetError) as info:
        check_limits(dataset, role)
    return str(info.value)


def test_valid_sets_pass_with_a_summary(tmp_path):
    report = check_limits(read_manifest(classification_set(str(tmp_path), 20, 10)), "single")
    assert report.counts["normal"] == 20 and report.counts["anomaly"] == 10
    assert report.sizes == {(64, 64): 30}
    test_report = check_limits(read_manifest(classification_set(str(tmp_path), 10, 10, name="t", ext=".jpg")),
                               "test")
    assert test_report.sizes == {(64, 64): 20}


@pytest.mark.parametrize("role, normal, anomalous, expected", [
    ("test", 9, 10, ["9 normal images; a test dataset needs at least 10"]),
    ("test", 10, 3, ["3 anomalous images; a test dataset needs at least 10"]),
    ("single", 19, 10, ["19 normal images; a single dataset needs at least 20"]),
    ("train", 4, 0, ["4 normal images; a train dataset needs at least 10"]),
])
def test_minimum_counts_per_role(tmp_path, role, normal, anomalous, expected):
    message = _problems(read_manifest(classification_set(str(tmp_path), normal, anomalous)), role)
    for text in expected:
        assert text in message


def test_maximum_counts_per_role(tmp_path, monkeypatch):
    monkeypatch.setitem(limits.MAX_IMAGES, "train", 11)
    dataset = read_manifest(classification_set(str(tmp_path), 10, 2))
    assert "12 labeled images; a train dataset holds at most 11" in _problems(dataset, "train")


def test_every_image_problem_is_listed_in_one_error(tmp_path, monkeypatch):
    root = str(tmp_path)
    lines = []
    for i in range(20):
        write_image("%s/ok-%d.png" % (root, i), textured(64, 64, seed=i))
        lines.append(cls_line("ok-%d.png" % i))
    write_image(root + "/wide.png", textured(64, 96))
    write_image(root + "/tiny.png", textured(32, 32))
    png = write_image(root + "/big.png", textured(64, 64))
    text = b"Comment\x00" + bytes(5000)
    chunk = len(text).to_bytes(4, "big") + b"tEXt" + text + zlib.crc32(b"tEXt" + text).to_bytes(4, "big")
    (tmp_path / "big.png").write_bytes(png[:-12] + chunk + png[-12:])  # a valid PNG, 5 KB bigger
    (tmp_path / "gif.png").write_bytes(b"GIF89a" + bytes(100))
    data = write_image(root + "/cut.png", textured(64, 64))
    (tmp_path / "cut.png").write_bytes(data[:-40])
    lines += [cls_line(n, "anomaly") for n in ("wide.png", "tiny.png", "missing.png", "gif.png", "cut.png")]
    lines += [cls_line("big.png", "anomaly")] * 5
    monkeypatch.setattr(limits, "MAX_IMAGE_BYTES", (tmp_path / "big.png").stat().st_size - 1)
    (tmp_path / "m.manifest").write_text("\n".join(json.dumps(x) for x in lines))
    message = _problems(read_manifest(str(tmp_path / "m.manifest")))
    assert "tiny.png): image is 32x32; expected 64..4096 pixels per side" in message
    assert "missing.png: file not found" in message
    assert "gif.png): expected a PNG or JPEG image" in message
    assert "cut.png): corrupt or truncated PNG image" in message
    assert "expected at most 8 MB" in message
    assert "found 3 sizes: 64x64: 26 image(s)" in message and "96x64: 1 image(s), e.g. " in message


def test_report_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_REPORTED", 3)
    lines = [cls_line("missing-%d.png" % i) for i in range(8)]
    (tmp_path / "m.manifest").write_text("\n".join(json.dumps(x) for x in lines))
    message = _problems(read_manifest(str(tmp_path / "m.manifest")))
    assert "10 problem(s)" in message and "... and 7 more" in message


def test_empty_class_stops_with_its_name(tmp_path):
    masks = [{"scratch": slice(0, 8)}] * 10
    dataset = read_manifest(segmentation_set(str(tmp_path), 20, masks, COLORS))
    message = _problems(dataset)
    assert "empty class 'dent' (#14A3B3)" in message and "scratch" not in message.split("empty class")[0]


def test_segmentation_passes_and_counts_masks_per_class(tmp_path):
    masks = [{"scratch": slice(0, 8)}] * 6 + [{"dent": slice(10, 20), "#010203": slice(30, 31)}] * 4
    report = check_limits(read_manifest(segmentation_set(str(tmp_path), 20, masks, COLORS)), "single")
    assert report.masks_per_class == {"scratch": 6, "dent": 4}
    assert any("outside their color map" in w for w in report.warnings)


def test_mask_problems(tmp_path, monkeypatch):
    masks = [{"scratch": slice(0, 8), "dent": slice(9, 12)}] * 9 + [{}]
    path = segmentation_set(str(tmp_path), 20, masks, COLORS)
    write_image(str(tmp_path / "masks" / "a-001.png"), textured(64, 80))  # wrong size
    with open(path, "a") as handle:
        handle.write(json.dumps(cls_line("images/n-000.png", "anomaly")) + "\n")
    monkeypatch.setattr(limits, "MAX_CLASSES_PER_PROJECT", 1)
    message = _problems(read_manifest(path))
    assert "a-001.png): mask is 80x64 but its image is 64x64" in message
    assert "a-009.png): labelled anomaly but its mask holds no pixel" in message
    assert "anomalous image without a mask in a segmentation dataset" in message
    assert "2 anomaly labels; a project holds at most 1" in message
    monkeypatch.setattr(limits, "MAX_CLASSES_PER_MASK", 1)
    assert "2 anomaly labels; expected at most 1 per mask" in _problems(read_manifest(path))


def test_unlabeled_images_are_ignored_with_a_warning(tmp_path):
    path = classification_set(str(tmp_path), 20, 10)
    with open(path, "a") as handle:
        handle.write(json.dumps(cls_line("not-there.png", None)) + "\n")
    report = check_limits(read_manifest(path), "single")
    assert report.counts["unlabeled"] == 1 and "1 unlabeled image(s) are ignored" in report.warnings


def test_project_needs_one_size_across_train_and_test(tmp_path):
    train = read_manifest(classification_set(str(tmp_path / "a"), 10, 0))
    test = read_manifest(classification_set(str(tmp_path / "b"), 10, 10, size=(96, 64)))
    with pytest.raises(DatasetError, match="found 64x64, 96x64"):
        check_project(train, test)
    with pytest.raises(DatasetError, match="role must be one of"):
        check_limits(train, "validation")


def test_jpeg_size_found_behind_large_metadata(tmp_path):
    data = write_image(str(tmp_path / "a.jpg"), textured(72, 100), ".jpg")
    app = b"\xff\xe1" + (60000).to_bytes(2, "big") + bytes(59998)
    (tmp_path / "exif.jpg").write_bytes(data[:2] + app + app + data[2:])
    header = read_header(str(tmp_path / "exif.jpg"))
    assert (header.format, header.width, header.height, header.complete) == ("jpeg", 100, 72, True)


def test_limits_over_s3_images(s3_bucket, moto_endpoint, tmp_path):
    client, bucket = s3_bucket
    lines = []
    for i in range(30):
        data = write_image(str(tmp_path / ("%d.png" % i)), textured(64, 64, seed=i))
        client.put_object(Bucket=bucket, Key="img/%d.png" % i, Body=data)
        lines.append(json.dumps(cls_line("img/%d.png" % i, "normal" if i < 20 else "anomaly")))
    lines.append(json.dumps(cls_line("img/gone.png", "anomaly")))
    client.put_object(Bucket=bucket, Key="m.manifest", Body="\n".join(lines).encode())
    dataset = read_manifest("s3://%s/m.manifest" % bucket, endpoint_url=moto_endpoint)
    with pytest.raises(DatasetError, match="gone.png: file not found in S3") as info:
        check_limits(dataset, "single", endpoint_url=moto_endpoint)
    assert "1 problem(s)" in str(info.value)
