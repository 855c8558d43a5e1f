"""Training of anomaly classification and segmentation models on a CPU (host side: needs torch)."""
