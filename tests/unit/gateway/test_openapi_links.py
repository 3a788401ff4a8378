"""gateway.openapi_links: links point at operations of the document, with the runtime expressions that
carry a signup's e-mail into signin and an opened position's id into close and amend."""

from __future__ import annotations

from typing import Any

from gateway.openapi_links import add_links


def _operation(status: str) -> dict[str, Any]:
    return {"responses": {status: {"description": "ok"}}}


def test_links_join_the_operations_of_the_document() -> None:
    schema: dict[str, Any] = {
        "paths": {
            "/api/v1/signup": {"post": _operation("201")},
            "/api/v1/signin": {"post": _operation("200")},
            "/api/v1/trade/create": {"post": _operation("201")},
            "/api/v1/trade/close": {"post": _operation("200")},
            "/api/v1/trade/{positionId}": {"patch": _operation("200")},
        }
    }
    add_links(schema)
    signin = schema["paths"]["/api/v1/signup"]["post"]["responses"]["201"]["links"]["SignIn"]
    assert signin["operationRef"] == "#/paths/~1api~1v1~1signin/post"
    assert signin["requestBody"] == {"email": "$response.body#/user/email", "password": "$request.body#/password"}
    created = schema["paths"]["/api/v1/trade/create"]["post"]["responses"]["201"]["links"]
    assert created["ClosePosition"]["requestBody"] == {"orderId": "$response.body#/trade/id"}
    assert created["AmendPosition"] == {
        "operationRef": "#/paths/~1api~1v1~1trade~1{positionId}/patch",
        "parameters": {"positionId": "$response.body#/trade/id"},
    }


def test_a_link_to_a_missing_operation_is_left_out() -> None:
    schema: dict[str, Any] = {"paths": {"/api/v1/trade/create": {"post": _operation("201")}}}
    add_links(schema)
    assert "links" not in schema["paths"]["/api/v1/trade/create"]["post"]["responses"]["201"]
