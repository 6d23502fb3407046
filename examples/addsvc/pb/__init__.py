"""Go kit's ``pb`` package: the messages of ``addsvc.proto``, generated when first imported.

As kit-grpc's own tests do with their protos, nothing generated is committed:
grpcio-tools' protoc turns ``addsvc.proto`` into ``addsvc_pb2`` in a temporary directory,
which is imported and removed. Only the messages are generated (``--python_out``):
kit-grpc's Go kit style serves and calls methods with no generated servicer or stub.
``SumRequest``, ``SumReply``, ``ConcatRequest`` and ``ConcatReply`` are its classes.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

PROTO = Path(__file__).with_name("addsvc.proto")
"""The interface spec the messages are generated from."""


def generate(proto: Path = PROTO) -> ModuleType:
    """Run protoc on ``proto`` and import the ``*_pb2`` module it writes."""
    from grpc_tools import protoc  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory(prefix="addsvc-pb-") as out:
        args = ["protoc", f"-I{proto.parent}", f"--python_out={out}", str(proto)]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {proto}")
        name = f"{proto.stem}_pb2"
        spec = importlib.util.spec_from_file_location(name, Path(out) / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


addsvc_pb2 = generate()
"""The generated module (its descriptor is in protobuf's default pool, as ``addsvc.proto``)."""

SumRequest: Any = addsvc_pb2.SumRequest
"""``{a, b int64}``."""
SumReply: Any = addsvc_pb2.SumReply
"""``{v int64, err string}``."""
ConcatRequest: Any = addsvc_pb2.ConcatRequest
"""``{a, b string}``."""
ConcatReply: Any = addsvc_pb2.ConcatReply
"""``{v, err string}``."""
SERVICE = "pb.Add"
"""The gRPC service name: methods ``/pb.Add/Sum`` and ``/pb.Add/Concat``."""
