"""Who may do what: the staff roles, in the spirit of OpenCRVS, and the scopes each one holds.

A scope names one kind of act on one kind of thing. Every staff endpoint requires one scope; a role is a fixed
set of scopes. Tokens carry the role, and the scopes are looked up here when a token is checked, so a change to
this table takes effect at once for every token already issued.
"""

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    REQUESTS_SUBMIT = "requests:submit"  # submit, attach scans, cancel and resubmit on a citizen's behalf
    REQUESTS_READ = "requests:read"  # search requests and read one, with its history and notices
    ATTACHMENTS_READ = "attachments:read"  # open the scans a citizen uploaded
    REVIEWS_READ = "reviews:read"  # the work queue, a review and its audit trail
    REVIEWS_DECIDE = "reviews:decide"  # claim, release, approve, reject, ask for information
    REVIEWS_SUPERVISE = "reviews:supervise"  # release another reviewer's claim (then anyone may take it)
    DOCUMENTS_READ = "documents:read"  # search documents, read one and its PDF
    DOCUMENTS_MANAGE = "documents:manage"  # revoke and correct issued documents
    SHIPMENTS_READ = "shipments:read"  # search shipments and follow one
    SHIPMENTS_HANDOVER = "shipments:handover"  # hand a document over at the kecamatan office
    INCIDENTS_READ = "incidents:read"  # where requests are stuck
    STATISTICS_READ = "statistics:read"  # counts, lead times and overdue reviews: figures, never a person's data
    OPERATIONS = "operations"  # dead letters: list, show, replay, discard
    ACCOUNTS_MANAGE = "accounts:manage"  # staff accounts
    AGENCIES_MANAGE = "agencies:manage"  # the agencies that subscribe to events: onboard, offboard, replay
    PERSONAL_DATA_EXPORT = "personal_data:export"  # everything held about one NIK, for the person who asks (UU 27/2022)


class Role(StrEnum):
    KECAMATAN_OPERATOR = "kecamatan_operator"
    REVIEWER = "reviewer"
    SUPERVISOR = "supervisor"
    DOCUMENT_OFFICER = "document_officer"
    SHIPPING_OFFICER = "shipping_officer"
    ADMIN = "admin"


_REVIEWER = frozenset(
    {Scope.REQUESTS_READ, Scope.ATTACHMENTS_READ, Scope.REVIEWS_READ, Scope.REVIEWS_DECIDE, Scope.DOCUMENTS_READ}
)

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    # At a kecamatan office: submits for the citizens of that kecamatan and hands over what is collected there.
    Role.KECAMATAN_OPERATOR: frozenset(
        {
            Scope.REQUESTS_SUBMIT,
            Scope.REQUESTS_READ,
            Scope.ATTACHMENTS_READ,
            Scope.SHIPMENTS_READ,
            Scope.SHIPMENTS_HANDOVER,
            Scope.STATISTICS_READ,  # of their own kecamatan only
        }
    ),
    Role.REVIEWER: _REVIEWER,
    # Follows the office's work as a whole: the figures, where requests are stuck, and the messages a stage could
    # not apply (replayed once the cause is fixed, or discarded with a reason).
    # Answers a person's request for what the office holds about them (the export), office-wide.
    Role.SUPERVISOR: _REVIEWER
    | {
        Scope.REVIEWS_SUPERVISE,
        Scope.INCIDENTS_READ,
        Scope.SHIPMENTS_READ,
        Scope.STATISTICS_READ,
        Scope.OPERATIONS,
        Scope.PERSONAL_DATA_EXPORT,
    },
    Role.DOCUMENT_OFFICER: frozenset({Scope.REQUESTS_READ, Scope.DOCUMENTS_READ, Scope.DOCUMENTS_MANAGE}),
    Role.SHIPPING_OFFICER: frozenset(
        {Scope.REQUESTS_READ, Scope.SHIPMENTS_READ, Scope.SHIPMENTS_HANDOVER, Scope.INCIDENTS_READ}
    ),
    # Runs the system, not the registry: accounts, agencies and failed messages, and no one's documents.
    Role.ADMIN: frozenset(
        {Scope.ACCOUNTS_MANAGE, Scope.AGENCIES_MANAGE, Scope.OPERATIONS, Scope.INCIDENTS_READ, Scope.STATISTICS_READ}
    ),
}

# Roles whose holders work for one kecamatan and see only its requests and parcels.
KECAMATAN_BOUND = frozenset({Role.KECAMATAN_OPERATOR})


@dataclass(frozen=True)
class Principal:
    """The member of staff behind a request."""

    username: str
    role: Role
    kecamatan_code: str | None = None
    session_id: str | None = None
    """The session the token belongs to (intake's tokens); sign-out ends it."""

    @property
    def scopes(self) -> frozenset[Scope]:
        return ROLE_SCOPES[self.role]

    @property
    def kecamatan_bound(self) -> bool:
        """Works for one kecamatan and sees only its requests and parcels."""
        return self.role in KECAMATAN_BOUND

    def serves(self, kecamatan_code: str | None) -> bool:
        """Whether this person may see or act on something of the given kecamatan."""
        if not self.kecamatan_bound:
            return True
        return kecamatan_code is not None and kecamatan_code == self.kecamatan_code
