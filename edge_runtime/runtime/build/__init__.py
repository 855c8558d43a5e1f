"""What a model build needs of the machine it runs on: device-side, Python 3.8, no onnx or torch.

TensorRT engine builds (trt_build, trt_network, trt_calibrator, calibration: a deferred build runs on
the device at first start), the GPU/CUDA/TensorRT probe (gpu_probe), version parsing and gates
(versions), and CPU models and feature detection (cpu_models, cpu_features). The host-side compiler
(`edge_runtime.compiler`) imports these; nothing here imports the compiler. Importing this package does nothing.
"""
