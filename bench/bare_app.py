"""The bare baseline: FastAPI + uvicorn validating exactly the body the ledger validates
for POST /v1/recognitions (the same pydantic command, strict JSON, as
ledger/api/commands.py builds it), answering the same shape, storing nothing.

    python -m uvicorn bench.bare_app:app --port 8001
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ledger.commands.recognitions import GiveRecognition

app = FastAPI()


@app.post("/v1/recognitions", status_code=201)
async def recognize(request: Request) -> JSONResponse:
    try:
        command = GiveRecognition.model_validate_json(await request.body(), strict=True)
    except ValidationError as error:
        return JSONResponse(
            {"status": 422, "errors": error.errors(include_url=False, include_context=False)}, 422
        )
    return JSONResponse({"recognition_id": "x", "points": command.points, "position": 0}, 201)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
