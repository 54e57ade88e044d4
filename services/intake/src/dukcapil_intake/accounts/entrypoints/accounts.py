"""Signing in and out (OAuth2 password flow, answering a JWT every service accepts), the public keys that check
those tokens, and staff accounts for admins."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from dukcapil_intake.accounts.domain.accounts import LockoutPolicy, StaffAccount
from dukcapil_intake.accounts.service_layer import accounts as service
from dukcapil_shared.auth.http import rate_limited, signed_in, staff
from dukcapil_shared.auth.roles import Principal, Role, Scope
from dukcapil_shared.auth.tokens import TokenIssuer
from dukcapil_shared.web import ApiError, ErrorResponse


def _unit_of_work(request: Request) -> service.AccountsUnitOfWork:
    factory: service.AccountsUnitOfWorkFactory = request.app.state.accounts_unit_of_work
    return factory()


async def _issuer(request: Request) -> TokenIssuer:
    return request.app.state.token_issuer


def _sign_in_rate(request: Request) -> str:
    return request.app.state.settings.sign_in_rate_limit


async def _ended(request: Request) -> service.SessionsEnded:
    return request.app.state.runtime.ended_sessions.learn


UnitOfWorkDep = Annotated[service.AccountsUnitOfWork, Depends(_unit_of_work)]
EndedDep = Annotated[service.SessionsEnded, Depends(_ended)]
Admin = Annotated[Principal, Depends(staff(Scope.ACCOUNTS_MANAGE))]


class TokenView(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer")
    expires_in: int = Field(description="Seconds the token is valid")
    scope: str = Field(description="The scopes the role holds, space-separated")


class MeView(BaseModel):
    username: str
    role: Role
    kecamatan_code: str | None
    scopes: list[str]


class AccountView(BaseModel):
    username: str
    full_name: str
    role: Role
    kecamatan_code: str | None
    active: bool
    created_at: datetime
    password_changed_at: datetime

    @classmethod
    def of(cls, account: StaffAccount) -> "AccountView":
        return cls.model_validate(account, from_attributes=True)


class NewAccountBody(BaseModel):
    username: str = Field(min_length=3, max_length=64, description="Lower-case letters, digits, '.', '_', '-'")
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    kecamatan_code: str | None = Field(
        default=None, pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="For a kecamatan_operator: the kecamatan served"
    )
    password: str = Field(min_length=1, max_length=200, description="At least 12 characters")


class AccountChangeBody(BaseModel):
    active: bool | None = Field(default=None, description="false: the account can no longer sign in")
    password: str | None = Field(default=None, min_length=1, max_length=200, description="A new password")


router = APIRouter(tags=["staff accounts"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.post(
    "/auth/token",
    response_model=TokenView,
    responses={400: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
    dependencies=[Depends(rate_limited("sign-in", _sign_in_rate))],
)
async def sign_in(
    request: Request,
    issuer: Annotated[TokenIssuer, Depends(_issuer)],
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    grant_type: Annotated[str, Form(pattern="^password$", description="OAuth2 password grant")] = "password",
) -> TokenView:
    """OAuth2 password grant (form fields username, password): a token for `Authorization: Bearer`, belonging to
    a new session. Repeated failures lock the user name for a while (429 `sign_in_locked` with Retry-After)."""
    try:
        token = await service.sign_in(
            username,
            password,
            unit_of_work=request.app.state.accounts_unit_of_work,
            issuer=issuer,
            lockout=request.app.state.lockout,
        )
    except service.SignInRefused as refused:
        raise ApiError(400, refused.code, refused.message) from None
    return TokenView(access_token=token.access_token, expires_in=token.expires_in, scope=token.scope)


@router.post("/auth/sign-out", status_code=204, response_class=Response, responses=_ERRORS)
async def sign_out(principal: Annotated[Principal, Depends(signed_in)], uow: UnitOfWorkDep, ended: EndedDep) -> None:
    """End the session of the token sent: it is refused by every service from now on (within seconds)."""
    await service.sign_out(principal, uow=uow, ended=ended)


@router.get("/.well-known/jwks.json", tags=["staff accounts"])
async def public_keys(issuer: Annotated[TokenIssuer, Depends(_issuer)]) -> dict[str, Any]:
    """The public keys (a JWK Set) that check staff tokens: intake's signing key and any retired one still in
    use. Give them to every other service as AUTH_JWKS (or the file AUTH_JWKS_FILE)."""
    return issuer.jwks()


@router.get("/auth/me", response_model=MeView, responses=_ERRORS)
async def me(principal: Annotated[Principal, Depends(signed_in)]) -> MeView:
    """Who the token belongs to, and what it allows."""
    return MeView(
        username=principal.username,
        role=principal.role,
        kecamatan_code=principal.kecamatan_code,
        scopes=sorted(principal.scopes),
    )


@router.get("/accounts", response_model=list[AccountView], responses=_ERRORS)
async def list_accounts(_admin: Admin, uow: UnitOfWorkDep) -> list[AccountView]:
    """Every staff account (no password hashes)."""
    return [AccountView.of(account) for account in await service.list_accounts(uow=uow)]


@router.post("/accounts", status_code=201, response_model=AccountView, responses={**_ERRORS, 409: {}})
async def create_account(body: NewAccountBody, _admin: Admin, uow: UnitOfWorkDep) -> AccountView:
    account = await service.create_account(
        username=body.username,
        full_name=body.full_name,
        role=body.role,
        kecamatan_code=body.kecamatan_code,
        password=body.password,
        uow=uow,
    )
    return AccountView.of(account)


@router.patch("/accounts/{username}", response_model=AccountView, responses={**_ERRORS, 404: {}})
async def change_account(
    username: str, body: AccountChangeBody, admin: Admin, request: Request, ended: EndedDep
) -> AccountView:
    """Deactivate or reactivate an account, or set a new password; either of the first ends its sessions, and its
    tokens are refused by every service within seconds."""
    if body.active is False and username == admin.username:
        raise ApiError(409, "cannot_deactivate_yourself", "Ask another admin to deactivate your own account.")
    account = None
    if body.password is not None:
        account = await service.set_password(username, body.password, uow=_unit_of_work(request), ended=ended)
    if body.active is not None:
        account = await service.set_active(username, body.active, uow=_unit_of_work(request), ended=ended)
    if account is None:
        raise ApiError(422, "nothing_to_change", "Send active, password or both.")
    return AccountView.of(account)


def install(
    app: FastAPI,
    *,
    unit_of_work: service.AccountsUnitOfWorkFactory,
    issuer: TokenIssuer,
    lockout: LockoutPolicy,
) -> None:
    app.state.accounts_unit_of_work = unit_of_work
    app.state.token_issuer = issuer
    app.state.lockout = lockout
    app.include_router(router)
