"""The model compiler, host-only: Lookout targets and CompilerOptions -> compiled model packages.

targets/options validation, CPU builds (ONNX Runtime optimisation, INT8 quantisation, the accuracy
change), compile.py. What also runs on the device (TensorRT engine builds, CPU feature detection,
version gates) lives in `edge_runtime.runtime.build`, which this package imports and never the other
way. Importing this package does nothing.
"""
