"""OpenAPI links: how the answer of one operation feeds the next (a signup's e-mail into signin, an opened
position's id into close and amend). They document the API's flows for readers and let a stateful fuzzer
(schemathesis, tests/integration/gateway/test_fuzz_openapi.py) chain calls the way a trader does. A link
whose source or target operation is not in the document is left out. (A link from a placed pending order
into its cancel made schemathesis 4.32 fail with FlakyStrategyDefinition while drawing the linked id;
pending orders are fuzzed without it.)"""

from __future__ import annotations

from typing import Any

API = "/api/v1"


def _ref(path: str, method: str) -> str:
    # a JSON pointer into `paths`: "/" inside a path is written "~1"
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


# (source path, method, status) -> {link name: (target path, method, link body without operationRef)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, Any]]]] = {
    (f"{API}/signup", "post", "201"): {
        "SignIn": (
            f"{API}/signin",
            "post",
            {"requestBody": {"email": "$response.body#/user/email", "password": "$request.body#/password"}},
        ),
    },
    (f"{API}/trade/create", "post", "201"): {
        "ClosePosition": (f"{API}/trade/close", "post", {"requestBody": {"orderId": "$response.body#/trade/id"}}),
        "AmendPosition": (
            f"{API}/trade/{{positionId}}",
            "patch",
            {"parameters": {"positionId": "$response.body#/trade/id"}},
        ),
    },
}


def add_links(schema: dict[str, Any]) -> None:
    """Adds every link of `LINKS` whose two operations exist in `schema` (in place)."""
    paths = schema.get("paths", {})
    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target_path, target_method, body) in links.items():
            if target_method in paths.get(target_path, {}):
                response.setdefault("links", {})[name] = {"operationRef": _ref(target_path, target_method), **body}
