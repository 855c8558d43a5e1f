"""Run by test_py38.py under the device's real Python 3.8: the in-process agent (create_server) and a
client in the same interpreter, over a Unix socket, with shared memory both ways.

    python tests/agent/py38_inprocess_flow.py MODELS_ROOT SOCKET_PATH SHM_NAME
"""

from __future__ import annotations

import sys
import time

import grpc
import numpy as np

from edge_runtime.agent.config import config_from_dict
from edge_runtime.agent.proto import edge_agent_pb2 as pb2
from edge_runtime.agent.proto import edge_agent_pb2_grpc as pb2_grpc
from edge_runtime.agent.server import AgentServices, start_server
from edge_runtime.shm import SharedMemorySegment


def main(models_root: str, socket: str, shm_name: str) -> int:
    assert sys.version_info[:2] == (3, 8), sys.version
    config = config_from_dict({"server": {"socket": socket}, "models": {"models_root": models_root}})
    services = AgentServices(config)
    server, address = start_server(config, services)
    seg = SharedMemorySegment.create(shm_name, 2 * 128 * 96 * 3)
    try:
        with grpc.insecure_channel(address) as channel:
            stub = pb2_grpc.EdgeAgentStub(channel)
            names = [m.model_component for m in stub.ListModels(pb2.ListModelsRequest()).models]
            assert names == ["classify", "segment"], names
            assert stub.StartModel(pb2.StartModelRequest(model_component="segment")).status == pb2.STARTING
            for _ in range(300):
                desc = stub.DescribeModel(pb2.DescribeModelRequest(model_component="segment")).model_description
                if desc.status != pb2.STARTING:
                    break
                time.sleep(0.1)
            assert desc.status == pb2.RUNNING, desc
            image = np.zeros((96, 128, 3), np.uint8)
            image[:, 64:, 0] = 255
            size = image.nbytes
            seg.write(0, image)
            request = pb2.DetectAnomaliesRequest(model_component="segment", bitmap=pb2.Bitmap(
                width=128, height=96, shared_memory_handle=pb2.SharedMemoryHandle(name=shm_name, size=size)))
            request.anomaly_mask_params.shared_memory_handle.CopyFrom(
                pb2.SharedMemoryHandle(name=shm_name, size=size, offset=size))
            result = stub.DetectAnomalies(request).detect_anomaly_result
            assert result.is_anomalous and [a.name for a in result.anomalies] == ["background", "scratch"]
            assert tuple(seg.array(size, (96, 128, 3))[95, 127]) == (0x23, 0xA4, 0x36)
            inline = pb2.DetectAnomaliesRequest(model_component="segment", bitmap=pb2.Bitmap(
                width=128, height=96, byte_data=image.tobytes()))
            assert len(stub.DetectAnomalies(inline).detect_anomaly_result.anomaly_mask.byte_data) == size
            assert stub.StopModel(pb2.StopModelRequest(model_component="segment")).status == pb2.STOPPED
    finally:
        seg.close()
        seg.unlink()
        server.stop(0).wait()
        services.close()
    import google.protobuf

    print("py38 flow ok: grpcio %s, protobuf %s" % (grpc.__version__, google.protobuf.__version__))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
