"""Image format and size from the file header, before anything is decoded.

A 2.6 MB PNG can hold 30000 x 30000 pixels (2.7 GB decoded), so every reader of untrusted images (the
client and `detect`, the REST server's DetectAnomalies, dataset checks and loading) reads the size
here first and refuses what is out of range without decoding. PNG (IHDR) and JPEG (the first SOFn
frame header) are read. Python 3.8 compatible: the client on the device uses it.
"""

from __future__ import annotations

from typing import Optional, Tuple

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC)
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def parse_header(data: bytes) -> Optional[Tuple[str, int, int]]:
    """(format, width, height) from the first bytes of a PNG/JPEG; ("", 0, 0) for neither; size 0 for a
    broken header; None when a JPEG needs more bytes to reach its frame header."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR":
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        return "", 0, 0
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return "jpeg", 0, 0  # broken marker stream
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in _SOF:
            return "jpeg", int.from_bytes(data[i + 7:i + 9], "big"), int.from_bytes(data[i + 5:i + 7], "big")
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def image_dimensions(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) when the header states them, else None (the decoder then has the last word)."""
    parsed = parse_header(data)
    if parsed is None or not parsed[1] or not parsed[2]:
        return None
    return parsed[1], parsed[2]
