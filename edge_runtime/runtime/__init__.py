"""Inference runtime used by the agent: preprocessing, engines (ONNX Runtime, TensorRT), postprocessing.

Python 3.8 compatible; imports neither torch nor onnx.
"""
