"""Loading images and masks: formats by magic bytes, colour conversion, corrupt files, local and S3."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_runtime.datasets.images import load_image, load_mask, mask_to_labels
from edge_runtime.datasets.types import MaskClass
from edge_runtime.errors import DatasetError
from tests.datasets.builders import textured, write_image


def test_png_is_exact_rgb_and_jpeg_is_close(tmp_path):
    rgb = textured(70, 90)
    rgb[:10, :10] = (255, 0, 0)  # pure red catches a BGR/RGB mix-up
    write_image(str(tmp_path / "a.png"), rgb)
    loaded = load_image(str(tmp_path / "a.png"))
    assert loaded.dtype == np.uint8 and loaded.shape == (70, 90, 3)
    assert np.array_equal(loaded, rgb)
    smooth = np.zeros((64, 64, 3), np.uint8)
    smooth[:] = (200, 40, 10)
    write_image(str(tmp_path / "b.jpg"), smooth, ".jpg")
    assert np.abs(load_image(str(tmp_path / "b.jpg")).astype(int) - smooth).max() < 12


def test_grey_rgba_and_16_bit_become_rgb8(tmp_path):
    grey = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) % 251
    cv2.imwrite(str(tmp_path / "grey.png"), grey.astype(np.uint8))
    image = load_image(str(tmp_path / "grey.png"))
    assert image.shape == (64, 64, 3) and np.array_equal(image[..., 0], grey) and np.array_equal(image[..., 2], grey)
    bgra = np.zeros((64, 64, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 255, 10  # blue, nearly transparent
    cv2.imwrite(str(tmp_path / "rgba.png"), bgra)
    assert load_image(str(tmp_path / "rgba.png"))[0, 0].tolist() == [0, 0, 255]
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((64, 64), 0x8000, np.uint16))
    assert load_image(str(tmp_path / "deep.png"))[0, 0].tolist() == [128, 128, 128]


@pytest.mark.parametrize("ext, expected", [(".bmp", "got bytes b'BM"), (".tiff", "expected a PNG or JPEG")])
def test_other_formats_are_refused_by_content(tmp_path, ext, expected):
    path = tmp_path / ("looks-like" + ".png")
    ok, data = cv2.imencode(ext, textured(64, 64))
    path.write_bytes(data.tobytes())
    with pytest.raises(DatasetError, match=expected) as info:
        load_image(str(path))
    assert str(path) in str(info.value)


def test_truncated_and_garbled_images_are_corrupt(tmp_path):
    data = write_image(str(tmp_path / "a.jpg"), textured(64, 64), ".jpg")
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="cut.jpg: corrupt or truncated JPEG"):
        load_image(str(tmp_path / "cut.jpg"))
    png = write_image(str(tmp_path / "a.png"), textured(64, 64))
    (tmp_path / "cut.png").write_bytes(png[: len(png) - 100])
    with pytest.raises(DatasetError, match="cut.png: corrupt or truncated PNG"):
        load_image(str(tmp_path / "cut.png"))
    garbled = bytearray(png)
    garbled[60:200] = bytes(140)  # header and IEND intact, compressed data destroyed
    (tmp_path / "garbled.png").write_bytes(bytes(garbled))
    with pytest.raises(DatasetError, match="garbled.png: corrupt PNG"):
        load_image(str(tmp_path / "garbled.png"))


def test_missing_file_and_jpeg_mask(tmp_path):
    with pytest.raises(DatasetError, match="nope.png: file not found"):
        load_image(str(tmp_path / "nope.png"))
    write_image(str(tmp_path / "mask.jpg"), textured(64, 64), ".jpg")
    with pytest.raises(DatasetError, match="mask.jpg: expected a PNG image, got JPEG"):
        load_mask(str(tmp_path / "mask.jpg"))


def test_mask_to_labels_maps_colours_and_treats_others_as_background(tmp_path):
    mask = np.full((64, 64, 3), 255, np.uint8)
    mask[:5] = (0x23, 0xA4, 0x36)
    mask[5:7] = (0xF7, 0x69, 0x02)
    mask[7:8] = (1, 2, 3)  # a stray colour
    write_image(str(tmp_path / "m.png"), mask)
    labels = mask_to_labels(load_mask(str(tmp_path / "m.png")),
                            [MaskClass("scratch", "#23A436"), MaskClass("crack", "#F76902")])
    assert labels.dtype == np.uint8
    assert (labels[:5] == 1).all() and (labels[5:7] == 2).all() and (labels[7:] == 0).all()


def test_s3_images_and_masks_with_endpoint_argument_or_environment(s3_bucket, moto_endpoint, monkeypatch):
    client, bucket = s3_bucket
    rgb = textured(64, 80, seed=5)
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    client.put_object(Bucket=bucket, Key="images/a.png", Body=data.tobytes())
    uri = "s3://%s/images/a.png" % bucket
    assert np.array_equal(load_image(uri, endpoint_url=moto_endpoint), rgb)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    assert np.array_equal(load_mask(uri), rgb)
    with pytest.raises(DatasetError, match="missing.png: file not found in S3"):
        load_image("s3://%s/images/missing.png" % bucket)
    with pytest.raises(DatasetError, match="expected an S3 location"):
        load_image("s3://%s" % bucket)
