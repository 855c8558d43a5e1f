"""Reading Lookout manifests: every documented leniency, and every error naming file, line and expectation."""

from __future__ import annotations

import json
import os

import pytest

from edge_runtime.datasets import manifest as manifest_module
from edge_runtime.datasets.manifest import read_manifest
from edge_runtime.datasets.types import MaskClass
from edge_runtime.errors import DatasetError
from tests.datasets.builders import cls_line, seg_line, write_manifest


def test_relative_refs_resolve_against_the_manifest_folder_not_the_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    path = write_manifest(folder / "train.manifest", [
        cls_line("images/a.png"), cls_line("../other/b.jpg", "anomaly"), cls_line("/abs/c.png"),
        cls_line("s3://bucket/d.png"), cls_line("file://" + str(tmp_path / "e.png")),
    ])
    monkeypatch.chdir(tmp_path)
    refs = [s.image_ref for s in read_manifest(path).samples]
    assert refs == [str(folder / "images" / "a.png"), str(tmp_path / "other" / "b.jpg"), "/abs/c.png",
                    "s3://bucket/d.png", str(tmp_path / "e.png")]


def test_any_label_attribute_name_and_lenient_metadata(tmp_path):
    js_date = "Tue Nov 10 2020 03:37:09 GMT+0000 (Coordinated Universal Time)"
    lines = [cls_line("a.png", "normal", attribute="my-defect-check"),
             cls_line("b.png", "ANOMALY", attribute="my-defect-check"),
             cls_line("c.png", None, attribute="my-defect-check"),
             cls_line("d.png", "unlabeled", attribute="my-defect-check")]
    lines[0]["my-defect-check-metadata"]["creation-date"] = js_date
    del lines[1]["my-defect-check-metadata"]["human-annotated"]
    del lines[1]["my-defect-check"]  # the value is unused on input; the metadata is what counts
    path = write_manifest(tmp_path / "m.manifest", lines, bom=True)
    dataset = read_manifest(path)
    assert dataset.label_attribute == "my-defect-check"
    assert [s.label for s in dataset.samples] == [0, 1, None, None]
    assert dataset.counts() == {"total": 4, "normal": 1, "anomaly": 1, "unlabeled": 2}
    assert dataset.task == "classification"
    assert [s.line for s in dataset.samples] == [1, 2, 3, 4]


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path):
    path = write_manifest(tmp_path / "m.manifest", [cls_line("a.png"), "", "   ", cls_line("b.png")])
    assert [s.line for s in read_manifest(path).samples] == [1, 4]


def test_segmentation_colour_map_without_background_and_any_hex_case(tmp_path):
    first = seg_line("a.png", "masks/a.png", {"scratch": "#23a436", "dent": "14A3B3"})
    second = seg_line("b.png", "masks/b.png", {"dent": "#14a3b3", "crack": "#F76902"})
    second["anomaly-mask-ref-metadata"]["internal-color-map"]["0"] = {"class-name": "BACKGROUND",
                                                                      "hex-color": "#ffffff"}
    dataset = read_manifest(write_manifest(tmp_path / "seg.manifest", [first, second, cls_line("c.png")]))
    assert dataset.task == "segmentation"
    assert dataset.classes == (MaskClass("scratch", "#23A436"), MaskClass("dent", "#14A3B3"),
                               MaskClass("crack", "#F76902"))
    assert dataset.samples[0].mask_ref == str(tmp_path / "masks" / "a.png")
    assert dataset.samples[1].mask_classes == (MaskClass("dent", "#14A3B3"), MaskClass("crack", "#F76902"))
    assert dataset.samples[2].mask_ref is None


def _error(tmp_path, lines) -> DatasetError:
    path = write_manifest(tmp_path / "bad.manifest", lines)
    with pytest.raises(DatasetError) as info:
        read_manifest(path)
    assert str(tmp_path / "bad.manifest") in str(info.value)
    return info.value


@pytest.mark.parametrize("bad_line, expected", [
    ('{"source-ref": "a.png", ', "invalid JSON"),
    ('["a.png"]', "expected a JSON object, got list"),
    (json.dumps({"source_ref": "a.png", "anomaly-label-metadata": {"class-name": "normal"}}),
     "expected 'source-ref'"),
    (json.dumps({"source-ref": "a.png", "anomaly-label": 1}), "expected label metadata"),
    (json.dumps(cls_line("a.png", "defect")), "'normal' or 'anomaly'"),
    (json.dumps(dict(cls_line("a.png", "anomaly"), **{"anomaly-mask-ref": "m.png"})), "internal-color-map"),
    (json.dumps(seg_line("a.png", "m.png", {"scratch": "green"})), "hex colour"),
    (json.dumps(seg_line("a.png", "m.png", {"scratch": "#23A436", "dent": "#23a436"})), "twice"),
])
def test_bad_line_names_file_line_and_expectation(tmp_path, bad_line, expected):
    error = _error(tmp_path, [cls_line("ok.png"), bad_line])
    assert error.line == 2
    assert ":2: " in str(error)
    assert expected in str(error)


def test_conflicting_class_colours_across_lines(tmp_path):
    error = _error(tmp_path, [seg_line("a.png", "a-m.png", {"scratch": "#23A436"}),
                              seg_line("b.png", "b-m.png", {"scratch": "#F76902"})])
    assert error.line == 2 and "conflicts" in str(error)


def test_all_bad_lines_are_reported_together(tmp_path):
    error = _error(tmp_path, ["not json", cls_line("ok.png"), json.dumps({"source-ref": "x.png"})])
    assert error.line == 1
    assert "1 more problem" in str(error) and "line 3: expected label metadata" in str(error)


def test_empty_missing_non_utf8_and_oversized_manifests(tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="empty"):
        read_manifest(write_manifest(tmp_path / "empty.manifest", []))
    with pytest.raises(DatasetError, match="not found"):
        read_manifest(str(tmp_path / "nope.manifest"))
    latin = tmp_path / "latin.manifest"
    latin.write_bytes(json.dumps(cls_line("a.png")).encode() + b"\n" + '{"source-ref": "é.png"}'.encode("latin-1"))
    with pytest.raises(DatasetError, match=r"latin.manifest:2: expected UTF-8"):
        read_manifest(str(latin))
    big = write_manifest(tmp_path / "big.manifest", [cls_line("a.png")] * 3)
    monkeypatch.setattr(manifest_module, "MAX_MANIFEST_BYTES", os.path.getsize(big) - 1)
    with pytest.raises(DatasetError, match="at most .* bytes"):
        read_manifest(big)


def test_manifest_in_s3_resolves_relative_refs_in_its_bucket(s3_bucket, moto_endpoint):
    client, bucket = s3_bucket
    body = "\n".join(json.dumps(line) for line in [cls_line("images/a.png"), cls_line("s3://other/b.png")])
    client.put_object(Bucket=bucket, Key="project/train.manifest", Body=body.encode())
    dataset = read_manifest("s3://%s/project/train.manifest" % bucket, endpoint_url=moto_endpoint)
    assert [s.image_ref for s in dataset.samples] == ["s3://%s/project/images/a.png" % bucket, "s3://other/b.png"]
    with pytest.raises(DatasetError, match="not found in S3"):
        read_manifest("s3://%s/project/missing.manifest" % bucket, endpoint_url=moto_endpoint)
