"""What grpcurl does, in Python: discover services and message types through server reflection and call
a unary method with a JSON request, without any generated stubs."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def list_services(address: str) -> list[str]:
    """`grpcurl -plaintext ADDRESS list`."""
    with grpc.insecure_channel(address) as channel:
        return sorted(ProtoReflectionDescriptorDatabase(channel).get_services())


def call_unary(address: str, method: str, request: dict[str, Any] | None = None, timeout: float = 10) -> dict[str, Any]:
    """`grpcurl -plaintext -d JSON ADDRESS package.Service/Method`; returns the response as JSON (dict)."""
    service_name, _, method_name = method.rpartition("/")
    with grpc.insecure_channel(address) as channel:
        pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
        method_desc = pool.FindServiceByName(service_name).FindMethodByName(method_name)
        request_cls = message_factory.GetMessageClass(method_desc.input_type)
        response_cls = message_factory.GetMessageClass(method_desc.output_type)
        call = channel.unary_unary(
            f"/{service_name}/{method_name}",
            request_serializer=lambda msg: msg.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        message = json_format.Parse(json.dumps(request or {}), request_cls())
        response = call(message, timeout=timeout)
        return json_format.MessageToDict(response, preserving_proto_field_name=False)
