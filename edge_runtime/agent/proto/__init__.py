"""Generated gRPC modules of the agent (see build/gen_proto.py) and their .proto sources.

`edge_agent_pb2[_grpc]`: the Lookout Edge Agent API (package AWS.LookoutVision), unchanged on the wire.
`agent_admin_pb2[_grpc]`: edge-runtime's AgentAdmin service (metrics), on the same socket.
Do not edit the *_pb2*.py files: edit the .proto and run `python build/gen_proto.py`.
"""
