"""The composition root: builds the services' API clients, the session store, the rate limits and the templates,
and wires them into the app with the chassis every service has (request ids, metrics, health, size limits)."""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.observability import ServiceMetrics
from dukcapil_shared.observability import http as observability_http
from dukcapil_shared.web import BodyLimit, NoSniff, RequestSizeLimit, health_router
from dukcapil_web.adapters.api import (
    DeadLettersApi,
    DocumentsApi,
    IntakeApi,
    ReviewApi,
    ShippingApi,
    StaffDocumentsApi,
    StaffIntakeApi,
)
from dukcapil_web.adapters.sessions import Sessions, session_store
from dukcapil_web.entrypoints import follow_ons, pages, staff
from dukcapil_web.entrypoints.security import PortalMiddleware
from dukcapil_web.settings import WebSettings

HERE = Path(__file__).parent
FORM_BYTES = 256 * 1024
"""A request form, a follow or a booking: a few kilobytes; the uploads get more."""


def build_app(
    settings: WebSettings | None = None,
    *,
    intake_transport: httpx.AsyncBaseTransport | None = None,
    documents_transport: httpx.AsyncBaseTransport | None = None,
    review_transport: httpx.AsyncBaseTransport | None = None,
    shipping_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The app; tests hand in transports that answer for the services."""
    settings = settings or WebSettings()
    configure_logging("web", settings.log_level, settings.log_json)
    # Its URLs would name a grant or an access code's request: the client's own request log stays off.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    intake_http = httpx.AsyncClient(
        base_url=settings.intake_url, timeout=settings.api_timeout, transport=intake_transport
    )
    documents_http = httpx.AsyncClient(
        base_url=settings.documents_url, timeout=settings.api_timeout, transport=documents_transport
    )
    review_http = httpx.AsyncClient(
        base_url=settings.review_url, timeout=settings.api_timeout, transport=review_transport
    )
    shipping_http = httpx.AsyncClient(
        base_url=settings.shipping_url, timeout=settings.api_timeout, transport=shipping_transport
    )
    intake = IntakeApi(intake_http, catalogue_cache_seconds=settings.catalogue_cache_seconds)
    documents = DocumentsApi(documents_http)
    store = session_store(settings.session_store_url, max_in_memory=settings.session_max_in_memory)
    sessions = Sessions(store, secret=settings.secret(), idle_seconds=settings.session_idle_minutes * 60)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.trim_blocks = True
    templates.env.lstrip_blocks = True
    metrics = ServiceMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await intake_http.aclose()
            await documents_http.aclose()
            await review_http.aclose()
            await shipping_http.aclose()
            await store.close()

    app = FastAPI(
        title="Disdukcapil Lebak: web",
        description="The citizens' portal and the staff console: pages over the services' public HTTP APIs.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    upload = settings.upload_max_bytes + 64 * 1024
    app.add_middleware(PortalMiddleware, sessions=sessions, cookie_secure=settings.cookie_secure)
    app.add_middleware(
        RequestSizeLimit,
        max_bytes=FORM_BYTES,
        larger=[BodyLimit("POST", "/permohonan/unggah", upload), BodyLimit("POST", "/verifikasi", upload)],
    )
    app.add_middleware(NoSniff)

    async def readiness() -> dict[str, bool]:
        return {"intake": await intake.ready(), "sessions": await store.ping()}

    app.include_router(health_router(readiness))
    observability_http.install(app, metrics)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Before the pages: the follow-on link's page (entrypoints/follow_ons.py).
    app.include_router(follow_ons.router)
    pages.install(
        app,
        pages.Portal(
            settings=settings,
            intake=intake,
            documents=documents,
            limits=RateLimits(settings.rate_limit_storage_url, key_prefix=settings.rate_limit_key_prefix),
            templates=templates,
        ),
    )
    staff.install(
        app,
        staff.Console(
            intake=StaffIntakeApi(intake_http),
            review=ReviewApi(review_http),
            shipping=ShippingApi(shipping_http),
            documents=StaffDocumentsApi(documents_http),
            dead_letters={
                "intake": DeadLettersApi(intake_http, "intake"),
                "review": DeadLettersApi(review_http, "review"),
                "documents": DeadLettersApi(documents_http, "documents"),
                "shipping": DeadLettersApi(shipping_http, "shipping"),
            },
        ),
    )
    return app
