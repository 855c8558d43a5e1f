"""Lookout for Vision's image limits, stated once: 64..4096 pixels a side, at most 8 MB a file.

The agent's frame check, the client, dataset checks, the self-hosted API's DetectAnomalies and the
synthetic dataset all use these. Python 3.8 compatible: this module runs on the device.
"""

MIN_SIDE = 64
MAX_SIDE = 4096
MAX_IMAGE_BYTES = 8 * 1024 * 1024
