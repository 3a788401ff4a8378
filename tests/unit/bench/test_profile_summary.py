"""bench.profile_summary: py-spy's collapsed stacks sorted into what the gateway spends an order on."""

from __future__ import annotations

from bench import profile_summary as ps

LOOP = "run (uvicorn/main.py:632);Runner.run (asyncio/runners.py:118)"
ROOT = f"{LOOP};MetricsMiddleware.__call__ (gateway/metrics.py:45)"
DEPS = "solve_dependencies (fastapi/dependencies/utils.py:726)"
STACKS = "\n".join(
    [
        f"{ROOT};{DEPS};current_user_id (gateway/deps.py:47);user_id_from_token (gateway/security.py:58);"
        "PyJWT.decode (jwt/api_jwt.py:370) 6",
        f"{ROOT};{DEPS};HTTPConnection.cookies (starlette/requests.py:99);"
        "Headers.getlist (starlette/datastructures.py:600) 3",
        f"{ROOT};Router.__call__ (starlette/routing.py:683) 2",
        f"{LOOP};MetricsMiddleware.__call__ (gateway/metrics.py:40) 1",
        "Runner.run (asyncio/runners.py:118) 1",
        "",
    ]
)


def test_parse_collapsed() -> None:
    stacks = ps.parse_collapsed(STACKS)
    assert len(stacks) == 5
    assert stacks[0][1] == 6
    assert stacks[0][0][-1] == "PyJWT.decode (jwt/api_jwt.py:370)"
    assert stacks[4] == (["Runner.run (asyncio/runners.py:118)"], 1)


def test_function_name_drops_the_line() -> None:
    assert ps.function_name("run (uvicorn/main.py:632)") == "run (uvicorn/main.py)"
    assert ps.function_name("<module> (<frozen runpy>:198)") == "<module> (<frozen runpy>)"


def test_categorise_prefers_specific_categories_over_fallbacks_and_the_innermost_match() -> None:
    shares = ps.categorise(ps.parse_collapsed(STACKS), ps.GATEWAY_CATEGORIES, ps.GATEWAY_FALLBACKS)
    assert shares == {
        # JWT inside FastAPI's dependency solving counts as JWT, not as dependency solving
        "JWT verification (PyJWT)": 6,
        # a starlette leaf under a specific frame belongs to that frame's category
        "cookie parsing in FastAPI's dependency solving": 3,
        "FastAPI/Starlette routing + middleware (rest)": 2,
        "gateway middlewares' own code (metrics, body limit)": 1,
        "other (event loop)": 1,
    }


def test_self_time_by_function() -> None:
    leaves = ps.self_time(ps.parse_collapsed(STACKS))
    assert leaves["PyJWT.decode (jwt/api_jwt.py)"] == 6
    assert leaves["MetricsMiddleware.__call__ (gateway/metrics.py)"] == 1


def test_render_gives_shares_and_ms_per_request() -> None:
    text = ps.render(ps.parse_collapsed(STACKS), cpu_ms_per_request=1.3, top=2)
    assert "| JWT verification (PyJWT) | 46.2% | 0.600 |" in text
    assert "| `PyJWT.decode (jwt/api_jwt.py)` | 46.2% |" in text
    assert text.count("| `") == 2
