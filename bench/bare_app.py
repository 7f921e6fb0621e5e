"""The bare baseline: a FastAPI endpoint that validates a small body and answers JSON."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    from_member: str
    to_member: str
    value: str
    points: int


@app.post("/v1/recognitions", status_code=201)
def recognize(body: Body) -> dict[str, object]:
    return {"recognition_id": "x", "points": body.points, "position": 0}
