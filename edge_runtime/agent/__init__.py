"""The on-device agent: the Lookout Edge Agent gRPC API over a Unix socket, with dynamic batching.

Layout: `config` (frozen dataclasses), `registry` (model lifecycle), `batcher` (per-model dynamic
batching), `servicer` (the only gRPC <-> domain translation), `server` (create_server / serve),
`metrics`, `greengrass` (optional IPC), `proto/` (generated code). Python 3.8 compatible; imports
neither torch nor onnx.
"""
