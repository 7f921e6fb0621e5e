"""Command endpoints: one generic path from HTTP request to `Ledger.execute`.

Order of refusals (RULES.md): 401, 403, then the request's form (413, 415,
400), then 404 for an unknown id in the path, 422 for the body, 409 from the
rules. The body is parsed by hand so a 404 on the path wins over a 422 on
the body; its schema is still published in OpenAPI from the command model.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ledger.aggregates.award import Award
from ledger.aggregates.campaign import Campaign
from ledger.aggregates.completion import Completion
from ledger.aggregates.drift_alert import DriftAlert
from ledger.aggregates.member import Member
from ledger.aggregates.mission import Mission
from ledger.aggregates.webhooks import Webhooks
from ledger.commands.adjustments import AdjustPoints
from ledger.commands.base import OPERATOR, Command
from ledger.commands.campaigns import DeclareWinners, LaunchCampaign
from ledger.commands.completions import CompleteMission, VerifyCompletion
from ledger.commands.context import Context
from ledger.commands.drift import AcknowledgeDriftAlert
from ledger.commands.handlers import HANDLERS
from ledger.commands.members import AddMember, ForgetMember, MoveMember, RecordDeparture
from ledger.commands.missions import ArchiveMission, PublishMission
from ledger.commands.recognitions import GiveRecognition
from ledger.commands.reversals import ReverseAward
from ledger.commands.strategy import DefineValue, RetireValue, ReviseStrategy
from ledger.commands.tenancy import ChangeSettings, CreateTenant, IssueAdminKey, IssueApiKey
from ledger.commands.webhooks import DeleteWebhook, RegisterWebhook
from ledger.errors import Invalid, NotFound
from ledger.service import Ledger, Outcome
from ledger.store import WriteBatch
from ledger.web.auth import Authenticator
from ledger.web.problems import Problem, validation_errors
from ledger.writer import Writer

MAX_BODY = 64 * 1024
# Does the path name something of the caller's tenant? Asked through the handlers' own
# context (ledger.commands.context), so a path check reads what a handler would read.
PathCheck = Callable[[Context, dict[str, str]], bool]
# Checks of a body that take I/O (a webhook URL's DNS): run before the writer, never on it.
BodyCheck = Callable[[dict[str, Any]], None]


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _value(ctx: Context, path: dict[str, str]) -> bool:
    return path["key"] in ctx.strategy().values


def _member(ctx: Context, path: dict[str, str]) -> bool:
    return ctx.load(Member, path["member_id"]) is not None


def _mission(ctx: Context, path: dict[str, str]) -> bool:
    return ctx.load(Mission, path["mission_id"]) is not None


def _campaign(ctx: Context, path: dict[str, str]) -> bool:
    return ctx.load(Campaign, path["campaign_id"]) is not None


def _award(ctx: Context, path: dict[str, str]) -> bool:
    award_id = _uuid(path["award_id"])
    award = ctx.load_by_id(Award, award_id) if award_id else None
    return award is not None and award.granted


def _completion(ctx: Context, path: dict[str, str]) -> bool:
    completion_id = _uuid(path["completion_id"])
    return completion_id is not None and ctx.load_by_id(Completion, completion_id) is not None


def _drift_alert(ctx: Context, path: dict[str, str]) -> bool:
    alert_id = _uuid(path["alert_id"])
    alert = ctx.load_by_id(DriftAlert, alert_id) if alert_id else None
    return alert is not None and alert.raised is not None


def _webhook(ctx: Context, path: dict[str, str]) -> bool:
    found = ctx.load_or_blank(Webhooks).receivers.get(path["webhook_id"])
    return found is not None and not found.deleted


def _tenant(ctx: Context, path: dict[str, str]) -> bool:
    return ctx.tenant_named(path["tenant_id"]).exists


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    command: type[Command]
    summary: str
    path_check: PathCheck | None = None
    tag: str = "commands"

    @property
    def by_operator(self) -> bool:
        return HANDLERS[self.command].roles == OPERATOR

    @property
    def path_params(self) -> list[str]:
        return [p.strip("{}") for p in self.path.split("/") if p.startswith("{")]


ROUTES = [
    # The busiest first: the router tries routes in order, and a regex match per route
    # tried showed in the event loop's profile. (No two paths overlap, so order is free.)
    Route("POST", "/v1/recognitions", GiveRecognition, "Recognize a peer"),
    Route(
        "POST",
        "/v1/missions/{mission_id}/completions",
        CompleteMission,
        "Record a mission completion",
        _mission,
    ),
    Route("POST", "/v1/tenants", CreateTenant, "Create a tenant (operator token)", tag="operator"),
    Route(
        "POST",
        "/v1/tenants/{tenant_id}/admin-keys",
        IssueAdminKey,
        "Issue a tenant another admin key (operator token; recorded on the tenant)",
        _tenant,
        tag="operator",
    ),
    Route("POST", "/v1/api-keys", IssueApiKey, "Issue an API key for this tenant"),
    Route("PUT", "/v1/settings", ChangeSettings, "Change the tenant's settings"),
    Route("POST", "/v1/values", DefineValue, "Define a company value"),
    Route("POST", "/v1/values/{key}/retire", RetireValue, "Retire a value", _value),
    Route("POST", "/v1/strategy/revisions", ReviseStrategy, "Adopt a strategy revision"),
    Route("POST", "/v1/members", AddMember, "Add a member"),
    Route("POST", "/v1/members/{member_id}/moves", MoveMember, "Move a member to a team", _member),
    Route(
        "POST",
        "/v1/members/{member_id}/departure",
        RecordDeparture,
        "Record a member's departure",
        _member,
    ),
    Route(
        "POST",
        "/v1/members/{member_id}/forget",
        ForgetMember,
        "Forget a member's personal data",
        _member,
    ),
    Route("POST", "/v1/missions", PublishMission, "Publish a focus mission"),
    Route(
        "POST", "/v1/missions/{mission_id}/archive", ArchiveMission, "Archive a mission", _mission
    ),
    Route(
        "POST",
        "/v1/completions/{completion_id}/verification",
        VerifyCompletion,
        "Approve or reject a pending completion",
        _completion,
    ),
    Route("POST", "/v1/campaigns", LaunchCampaign, "Launch a campaign"),
    Route(
        "POST",
        "/v1/campaigns/{campaign_id}/winners",
        DeclareWinners,
        "Declare a campaign's winners",
        _campaign,
    ),
    Route("POST", "/v1/points/adjustments", AdjustPoints, "Adjust a member's points"),
    Route(
        "POST",
        "/v1/webhooks",
        RegisterWebhook,
        "Register a webhook (https, public addresses); its signing secret is shown once",
        tag="webhooks",
    ),
    Route(
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        DeleteWebhook,
        "Delete a webhook (its URL and secret become unreadable)",
        _webhook,
        tag="webhooks",
    ),
    Route(
        "POST",
        "/v1/drift/alerts/{alert_id}/acknowledgement",
        AcknowledgeDriftAlert,
        "Acknowledge a drift alert, with a note and the lever pulled",
        _drift_alert,
        tag="drift",
    ),
    Route(
        "POST",
        "/v1/awards/{award_id}/reversal",
        ReverseAward,
        "Reverse an award (it then counts nowhere; the audit keeps both)",
        _award,
    ),
]


async def read_json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or the matching 413 / 415 / 400 / 422."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise Problem(413, f"the body is larger than {MAX_BODY} bytes")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Problem(413, f"the body is larger than {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise Problem(415, "send the body as application/json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Problem(400, f"the body is not readable JSON: {error}") from error
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    return body


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


def build_command(route: Route, path: dict[str, str], body: dict[str, Any]) -> Command:
    clash = sorted(set(body) & set(path))
    if clash:
        raise Invalid(f"unknown field(s) in the body: {', '.join(clash)}", field=clash[0])
    try:
        # Strict JSON validation: no numbers for dates, no booleans for integers.
        return route.command.model_validate_json(orjson.dumps({**body, **path}), strict=True)
    except ValidationError as error:
        raise Invalid(
            "the request body is not valid", errors=validation_errors(error.errors())
        ) from error


# Headers stored with every event of a command: bounded, printable ASCII, no markup.
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")
# How the OpenAPI document declares it (the handlers read it with `header`, above).
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Repeat a command safely: the same key with the same body answers the "
    "first outcome again (24 h); with another body, 422.",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern, "maxLength": 200},
}


def header(request: Request, name: str, shape: re.Pattern[str]) -> str | None:
    value = request.headers.get(name)
    if value is not None and not shape.match(value):
        raise Invalid(f"{name} must match {shape.pattern}", field=name)
    return value


def request_path(request: Request) -> str:
    """`request.url.path` without building the URL (it showed in the writer's profile):
    the same escaping, so fingerprints stored before stay equal."""
    path: str = request.scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


REPLAYED = {"Idempotent-Replayed": "true"}


def answer(outcome: Outcome) -> Response:
    # orjson, like the body's parse: the stdlib encoder and JSONResponse were 6 % of the
    # event loop's time per command (the answer is JSON types only: the same bytes).
    return Response(
        orjson.dumps(outcome.response),
        status_code=201 if outcome.created else 200,
        headers=REPLAYED if outcome.replayed else None,
        media_type="application/json",
    )


def endpoint(
    route: Route,
    ledger: Ledger,
    writer: Writer,
    auth: Authenticator,
    record: Callable[[str, str], None],
    body_check: BodyCheck | None = None,
) -> Callable[..., Any]:
    roles = HANDLERS[route.command].roles

    def checked(request: Request, body: dict[str, Any]) -> None:
        """401/403, then the body's form, then its slow check (in that order of refusal)."""
        auth.caller(request, roles)
        build_command(route, dict(request.path_params), body)
        assert body_check is not None
        body_check(body)

    async def run(request: Request) -> Response:
        # The body is read on the event loop (bounded by MAX_BODY); its refusal waits until
        # the caller is known, so the order of refusals stays 401/403 before 413/415/400.
        try:
            body: dict[str, Any] = await read_json_object(request)
            unreadable: Exception | None = None
        except (Problem, Invalid) as error:
            body, unreadable = {}, error
        if body_check is not None and unreadable is None:
            await run_in_threadpool(checked, request, body)

        def handle(batch: WriteBatch) -> Outcome:
            # On the writer's thread: authentication, path checks and the command read
            # the store there, never on the event loop (a slow store holds up commands
            # only), and the command's events join the writer's next group commit.
            caller = auth.operator(request) if route.by_operator else auth.caller(request, roles)
            if unreadable is not None:
                raise unreadable
            path = dict(request.path_params)
            url_path = request_path(request)
            if route.path_check and not route.path_check(ledger.context(caller), path):
                raise NotFound(f"nothing at {url_path}")
            command = build_command(route, path, body)
            try:
                outcome = ledger.execute(
                    command,
                    caller,
                    idempotency_key=header(request, "Idempotency-Key", IDEMPOTENCY_KEY),
                    fingerprint=fingerprint(request.method, url_path, body),
                    correlation_id=header(request, "X-Correlation-Id", CORRELATION_ID),
                    batch=batch,
                )
            except Exception:
                record(route.command.__name__, "refused")
                raise
            record(route.command.__name__, "accepted")
            return outcome

        return answer(await asyncio.wrap_future(writer.submit(handle)))

    return run


def install(
    app: FastAPI,
    ledger: Ledger,
    writer: Writer,
    auth: Authenticator,
    record: Callable[[str, str], None],
    responses: dict[int | str, Any],
    body_checks: dict[type[Command], BodyCheck] | None = None,
) -> None:
    for route in ROUTES:
        status = route.command.accepted_status
        app.add_api_route(
            route.path,
            endpoint(route, ledger, writer, auth, record, (body_checks or {}).get(route.command)),
            methods=[route.method],
            summary=route.summary,
            status_code=status,
            responses={**responses, status: ACCEPTED},
            tags=[route.tag],
            openapi_extra={
                "requestBody": request_body(route),
                "parameters": [
                    {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                    for name in route.path_params
                ],
            },
        )


SCHEMA_DEFS: dict[str, Any] = {}
ACCEPTED = {
    "description": "Accepted",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"position": {"type": ["integer", "null"]}}}
        }
    },
}


def request_body(route: Route) -> dict[str, Any]:
    """The command's JSON Schema without its path fields, for OpenAPI."""
    schema = route.command.model_json_schema(ref_template="#/components/schemas/{model}")
    SCHEMA_DEFS.update(schema.pop("$defs", {}))
    path_fields = set(route.path_params)
    for name in path_fields:
        schema.get("properties", {}).pop(name, None)
    if "required" in schema:
        schema["required"] = [r for r in schema["required"] if r not in path_fields]
        if not schema["required"]:
            del schema["required"]
    return {
        "required": bool(schema.get("required")),
        "content": {"application/json": {"schema": schema}},
    }
