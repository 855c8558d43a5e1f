"""The model compiler: Lookout targets and CompilerOptions -> compiled model packages.

Host side: targets/options validation, CPU builds (ONNX Runtime optimisation, INT8 quantisation),
compile.py. Device side (Python 3.8, no onnx/torch): build_loader, cpu_features, versions, trt_build
and its helpers, which resolve compiled packages and build deferred TensorRT engines on the device.
Importing this package does nothing.
"""
