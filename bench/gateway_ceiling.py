"""The ceiling for bench.gateway_load: a trivial FastAPI app (one POST endpoint that parses a small JSON
body and returns a small JSON body) served by the same uvicorn on the same machine, so the gateway's
create-order figures can be compared with what FastAPI + uvicorn + the client manage with no work."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Echo(BaseModel):
    asset: str
    side: str
    quantity: str
    leverage: int


@app.post("/echo", status_code=201)
async def echo(body: Echo) -> dict[str, object]:
    return {"message": "Order placed", "trade": body.model_dump()}
