"""Staff authentication (signed tokens), roles and scopes, the access log, and rate limits for citizens."""

from dukcapil_shared.auth.access import AccessLog, AccessRecord, MemoryAccessLog, SqlAccessLog, add_access_log_table
from dukcapil_shared.auth.http import (
    REASON_HEADER,
    StaffAuth,
    client_address,
    install_auth,
    limit_to_own_kecamatan,
    optional_personal_data,
    optional_staff,
    personal_data,
    rate_limited,
    rate_limits,
    signed_in,
    staff,
)
from dukcapil_shared.auth.ratelimit import RateLimits, target_key
from dukcapil_shared.auth.roles import KECAMATAN_BOUND, ROLE_SCOPES, Role, Scope
from dukcapil_shared.auth.tokens import (
    InvalidToken,
    IssuedToken,
    LocalTokenVerifier,
    OidcTokenVerifier,
    Principal,
    TokenIssuer,
    TokenVerifier,
)

__all__ = [
    "KECAMATAN_BOUND",
    "REASON_HEADER",
    "ROLE_SCOPES",
    "AccessLog",
    "AccessRecord",
    "InvalidToken",
    "IssuedToken",
    "LocalTokenVerifier",
    "MemoryAccessLog",
    "OidcTokenVerifier",
    "Principal",
    "RateLimits",
    "Role",
    "Scope",
    "SqlAccessLog",
    "StaffAuth",
    "TokenIssuer",
    "TokenVerifier",
    "add_access_log_table",
    "client_address",
    "install_auth",
    "limit_to_own_kecamatan",
    "optional_personal_data",
    "optional_staff",
    "personal_data",
    "rate_limited",
    "rate_limits",
    "signed_in",
    "staff",
    "target_key",
]
