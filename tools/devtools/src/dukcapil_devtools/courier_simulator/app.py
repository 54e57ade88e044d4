"""A courier that speaks the shape of JNE's partner API, for tests and the demo.

It stands for an outside company, so it shares no code with the shipping service: only the HTTP API.
Partner calls are form-encoded POSTs carrying `username` and `api_key`. `POST /simulator/scripts` lets a test
decide, per order, how the delivery ends (delivered, failed_once_then_delivered, returned), who signs for it,
whether the parcel stalls, and whether the courier fails its next calls; `GET /simulator/orders/{order_id}` shows
an order's script and parcel. Parcels and scripts are kept in `SIMULATOR_DATA_DIR`, as a real courier keeps its
airway bills: a restart forgets nothing.
"""

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dukcapil_devtools.courier_simulator.model import Courier, Outcome, Script, missing_fields
from dukcapil_devtools.courier_simulator.store import CourierStore


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8010
    # Development-only partner credentials; the shipping service's defaults match them.
    username: str = "dukcapil-lebak-dev"
    api_key: str = "development-only-courier-api-key"
    step_seconds: float = Field(default=2.0, description="Time between a parcel's milestones")
    failure_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of unscripted deliveries that fail twice and are returned"
    )
    error_rate: float = Field(default=0.0, ge=0, le=1, description="Share of partner API calls answered 503")
    seed: int | None = Field(default=None, description="Seed for the airway bills and the random failures")
    data_dir: Path | None = Field(
        default=Path("var/courier-simulator"),
        description="Where parcels and scripts are kept (a SQLite file), so that a restart forgets nothing; "
        "None (tests only): memory, forgotten when the process ends",
    )


class ScriptBody(BaseModel):
    """Only the fields given change; a script may come before the order is booked, or while it is on its way."""

    order_id: str = Field(description="OLSHOP_ORDERID the script applies to")
    outcome: Outcome | None = Field(
        default=None,
        description="How the delivery ends: delivered; failed_once_then_delivered; returned (two failed attempts, "
        "then back to the sender; failed means the same)",
    )
    receiver_name: str | None = Field(default=None, description="Who signs the proof of delivery")
    failure_reason: str | None = Field(default=None, description="Why the attempts fail, e.g. ALAMAT TIDAK DITEMUKAN")
    stall: bool | None = Field(
        default=None, description="true: the parcel stops where it is (a stuck parcel); false: it moves on"
    )
    fail_next_requests: int | None = Field(
        default=None, ge=0, description="Answer the next N calls for the order with 503"
    )


class ScriptView(BaseModel):
    order_id: str
    outcome: Outcome | None
    receiver_name: str | None
    failure_reason: str | None
    stall: bool
    fail_next_requests: int


class Refusal(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def create_app(settings: SimulatorSettings | None = None, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    settings = settings or SimulatorSettings()
    store = CourierStore(settings.data_dir) if settings.data_dir is not None else None
    courier = Courier(
        clock=clock or (lambda: datetime.now(UTC)),
        step_seconds=settings.step_seconds,
        failure_rate=settings.failure_rate,
        error_rate=settings.error_rate,
        rng=random.Random(settings.seed),
        records=store,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if store is not None:
            store.close()

    app = FastAPI(title="Courier simulator", description=__doc__, version="0.1.0", lifespan=lifespan)
    app.state.courier = courier

    @app.exception_handler(Refusal)
    async def _refused(_request: Request, refusal: Refusal) -> JSONResponse:
        return JSONResponse(status_code=refusal.status, content=refusal.body)

    async def partner_form(request: Request) -> dict[str, str]:
        form = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
        if form.get("username") != settings.username or form.get("api_key") != settings.api_key:
            raise Refusal(401, {"status": False, "error": "Invalid username or api_key"})
        return form

    def unavailable_for(order_id: str | None) -> None:
        if courier.should_fail(order_id):
            raise Refusal(503, {"status": False, "error": "Service temporarily unavailable, try again later"})

    @app.post("/tracing/api/generatecnote", tags=["partner API"])
    async def generate_cnote(request: Request) -> dict[str, Any]:
        """Create (or find again, for the same OLSHOP_ORDERID) the airway bill of an order."""
        form = await partner_form(request)
        unavailable_for(form.get("OLSHOP_ORDERID"))
        missing = missing_fields(form)
        if missing:
            reason = f"Missing required field(s): {', '.join(missing)}"
            raise Refusal(400, {"detail": [{"status": "gagal", "reason": reason}]})
        parcel = courier.generate_cnote(form)
        return {"detail": [{"status": "sukses", "cnote_no": parcel.cnote}]}

    @app.post("/tracing/api/list/v1/cnote/{cnote}", tags=["partner API"])
    async def track(cnote: str, request: Request) -> dict[str, Any]:
        """Current status, proof of delivery and history of an airway bill."""
        await partner_form(request)
        parcel = courier.find(cnote)
        unavailable_for(parcel.order_id if parcel else None)
        if parcel is None:
            raise Refusal(404, {"status": False, "error": "Cnote No. Not Found."})
        return parcel.tracking()

    @app.post("/simulator/scripts", status_code=201, tags=["simulator"])
    async def script(body: ScriptBody) -> ScriptView:
        """Decide how an order ends, who signs for it, stall it, or make the courier fail the order's next calls."""
        changes = body.model_dump(include=body.model_fields_set - {"order_id"}, exclude_none=True)
        return _script_view(body.order_id, courier.script(body.order_id, **changes))

    @app.get("/simulator/orders/{order_id}", tags=["simulator"])
    async def order(order_id: str) -> dict[str, Any]:
        """An order's script, and its parcel's tracking once it has an airway bill."""
        script = courier.scripts.get(order_id)
        parcel = courier.parcels.get(order_id)
        if script is None and parcel is None:
            raise HTTPException(404, f"No script and no parcel for order {order_id}")
        tracked = courier.find(parcel.cnote) if parcel else None
        return {
            "script": _script_view(order_id, script).model_dump() if script else None,
            "parcel": tracked.tracking() if tracked else None,
        }

    @app.get("/healthz", tags=["simulator"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _script_view(order_id: str, script: Script) -> ScriptView:
    return ScriptView(
        order_id=order_id,
        outcome=script.outcome,
        receiver_name=script.receiver_name,
        failure_reason=script.failure_reason,
        stall=script.stall,
        fail_next_requests=script.fail_next_requests,
    )
