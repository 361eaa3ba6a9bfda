"""Every status and reason revisit stores, in one place (string enums: each member *is* its
string, so it goes to the database and to JSON unchanged).

A contact row's life (:mod:`revisit.delivery.outbox`)::

    plan: to_contact ─▶ pending ──claim──▶ sending ──▶ sent | failed | unknown
          excluded / suppressed / holdout: written with their reason, never sent
          pending past its last useful day (a run resumed too late) ──▶ expired, never sent
    call campaigns: pending ──handed to a caller──▶ listed

Why a cohort member is due when it is (maintenance by the mileage estimate or by the
interval, …) is the cohort's own vocabulary: :class:`revisit.cohorts.definitions.DueBasis`,
kept in a contact's ``details``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class ContactStatus(StrEnum):
    """The status of one contact row in the outbox."""

    PENDING = "pending"  # to be sent (or listed); may wait for the send window
    SENDING = "sending"  # claimed by a dispatcher; the provider may be on it
    SENT = "sent"  # accepted by the provider
    FAILED = "failed"  # refused for good (see error_code)
    UNKNOWN = "unknown"  # the answer was lost: reconciled with the provider before any resend
    LISTED = "listed"  # a call contact handed to a caller
    EXCLUDED = "excluded"  # an exclusion rule applies (see reason)
    SUPPRESSED = "suppressed"  # another campaign or a cap takes precedence (see reason)
    HOLDOUT = "holdout"  # the control group: deliberately not contacted
    DEFERRED = "deferred"  # kept for a later send window
    EXPIRED = "expired"  # still pending after its last useful day: counted, never sent


#: Contacts that may have reached the customer (unknown: possibly; listed: a caller has it).
REACHED_STATUSES = (
    ContactStatus.SENT,
    ContactStatus.SENDING,
    ContactStatus.UNKNOWN,
    ContactStatus.LISTED,
)
#: Contacts that are, or will be, a contact of the day.
LIVE_STATUSES = (ContactStatus.PENDING, ContactStatus.DEFERRED, *REACHED_STATUSES)
#: Contacts a dispatcher holds (a send in flight, or an outcome to reconcile).
IN_FLIGHT_STATUSES = (ContactStatus.SENDING, ContactStatus.UNKNOWN)
#: Contacts an SMS run still has to settle.
WAITING_STATUSES = (ContactStatus.PENDING, *IN_FLIGHT_STATUSES)


class RunStatus(StrEnum):
    """The status of a campaign run."""

    PLANNED = "planned"  # the outbox is written, nothing sent yet
    SENDING = "sending"  # a dispatcher is working on it
    DEFERRED = "deferred"  # outside the send window; resumed by the next run
    PAUSED = "paused"  # stopped after repeated failures; resumed by running it again
    DONE = "done"  # nothing left to send or list
    FAILED = "failed"
    DRY_RUN = "dry_run"  # planned and rendered, nothing written (reports only)


class PlanDecision(StrEnum):
    """What a campaign's plan decides for one targeted customer."""

    TO_CONTACT = "to_contact"
    EXCLUDED = "excluded"
    SUPPRESSED = "suppressed"
    HOLDOUT = "holdout"


class ExclusionReason(StrEnum):
    """Why a targeted customer cannot be contacted at all (SPEC: always- and channel
    exclusions, each counted in the run's report)."""

    DO_NOT_CONTACT = "do_not_contact"
    VEHICLE_SOLD = "vehicle_sold"
    VEHICLE_SCRAPPED = "vehicle_scrapped"
    NO_PHONE = "no_phone"
    INVALID_PHONE = "invalid_phone"
    NOT_MOBILE = "not_mobile"  # a landline: calls only
    NO_SMS_CONSENT = "no_sms_consent"


class SuppressionReason(StrEnum):
    """Why a reachable customer is not contacted by this campaign today."""

    LOWER_PRIORITY = "lower_priority"  # a higher-ranked campaign has them today
    FREQUENCY_CAP = "frequency_cap"  # enough SMS in the cap's days already
    RECONTACT_WINDOW = "recontact_window"  # a related campaign contacted them recently
    ALREADY_CONTACTED = "already_contacted"  # this campaign already contacted their event(s)
    SHARED_PHONE = "shared_phone"  # another customer on the same phone gets this run's contact
    BUDGET = "budget"  # the store's daily SMS budget is spent by higher-ranked contacts


class ChannelKind(StrEnum):
    """How a contact reaches the customer."""

    SMS = "sms"
    CALL = "call"


class OptOutSource(StrEnum):
    """Where a do-not-contact entry came from."""

    REPLY = "reply"  # the customer replied with an opt-out word
    PROVIDER = "provider"  # the provider refused: the recipient opted out (Twilio 21610)
    STAFF = "staff"  # the customer told a caller
    IMPORT = "import"  # an opt-out list (a carrier's, a complaint list)


#: Every reason a contact row may carry.
CONTACT_REASONS: frozenset[str] = frozenset({*ExclusionReason, *SuppressionReason})

#: The status a contact is written with for each plan decision.
PLANNED_STATUS: dict[PlanDecision, ContactStatus] = {
    PlanDecision.TO_CONTACT: ContactStatus.PENDING,
    PlanDecision.EXCLUDED: ContactStatus.EXCLUDED,
    PlanDecision.SUPPRESSED: ContactStatus.SUPPRESSED,
    PlanDecision.HOLDOUT: ContactStatus.HOLDOUT,
}


class MessageStatus(StrEnum):
    """A message's status as the provider reports it (Twilio's Message resource ``status``;
    the outbound life in Twilio's guide "Outbound Message Status in Status Callbacks")."""

    SCHEDULED = "scheduled"  # a Messaging Service holds it for a later time
    ACCEPTED = "accepted"  # a Messaging Service took it
    QUEUED = "queued"  # created, waiting to go to the carrier
    SENDING = "sending"
    SENT = "sent"  # handed to the carrier
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"  # the carrier confirmed delivery
    READ = "read"  # a read receipt (channels that have them)
    UNDELIVERED = "undelivered"  # the carrier could not deliver it
    FAILED = "failed"  # it could not be sent
    CANCELED = "canceled"  # a scheduled message cancelled before it went
    RECEIVING = "receiving"  # inbound: not an outbound message's status
    RECEIVED = "received"


#: How far along its life a status is: a message's status only ever moves to a higher rank.
MESSAGE_STATUS_RANK: dict[MessageStatus, int] = {
    MessageStatus.SCHEDULED: 0,
    MessageStatus.ACCEPTED: 0,
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.PARTIALLY_DELIVERED: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.CANCELED: 4,
    MessageStatus.READ: 5,
}
#: Statuses after which nothing but a read receipt (after ``delivered``) may follow.
FINAL_MESSAGE_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELED,
        MessageStatus.READ,
    }
)


def message_status_moves(old: str | None, new: str) -> bool:
    """Whether a message at status ``old`` may take status ``new``: forward only, a final
    status is never overwritten (a late ``sent`` after ``delivered`` is ignored), except
    that ``read`` may follow ``delivered``. Unknown statuses never move a message."""
    try:
        target = MessageStatus(new)
    except ValueError:
        return False
    if target not in MESSAGE_STATUS_RANK:
        return False
    if old is None:
        return True
    try:
        current = MessageStatus(old)
    except ValueError:
        return True  # a value this version does not know: the provider's word wins
    if current in FINAL_MESSAGE_STATUSES:
        return current is MessageStatus.DELIVERED and target is MessageStatus.READ
    return MESSAGE_STATUS_RANK[target] > MESSAGE_STATUS_RANK.get(current, -1)


class ReplyCode(StrEnum):
    """The code of a reply outcome (``outcomes.kind = reply``)."""

    MESSAGE = "message"  # anything else the customer wrote: for staff to read
    OPT_OUT = "opt_out"  # an opt-out word: the customer is now on do-not-contact
    OPT_IN = "opt_in"  # START / UNSTOP / YES lifted a reply opt-out


class TicketStatus(StrEnum):
    """Where a dissatisfied-customer ticket stands (:mod:`revisit.outcomes.tickets`)::

    open ──start──▶ in_progress ──resolve (with a note)──▶ resolved
    open ──────────resolve (with a note)─────────────────▶ resolved
    """

    OPEN = "open"  # nobody has taken it up yet
    IN_PROGRESS = "in_progress"  # the owner is on it
    RESOLVED = "resolved"  # closed, with what was done


#: A ticket not resolved this long after it was opened is flagged, whether nobody took it up
#: or it was started and left (the seeds: a dissatisfied customer is taken up the same day,
#: reported at the next morning meeting).
TICKET_OVERDUE_AFTER = timedelta(days=1)


def ticket_overdue(status: str, opened_at: datetime, now: datetime) -> bool:
    """Whether a ticket is flagged: not resolved (open or in progress) more than
    :data:`TICKET_OVERDUE_AFTER` after ``opened_at`` (both aware)."""
    return status != TicketStatus.RESOLVED and now - opened_at > TICKET_OVERDUE_AFTER


class Role(StrEnum):
    """A web app user's role (``revisit user add --role``): what their pages let them do.
    Each is scoped to one or more stores, except ``admin`` (every store)."""

    STAFF = "staff"  # a caller: today's calls, call sheets, outcomes
    LEAD = "lead"  # a team lead: campaign previews, launches, runs (and the staff pages)
    MANAGER = "manager"  # the dashboard (and everything a lead sees)
    ADMIN = "admin"  # every store; users are managed with the CLI


#: What each role may do beyond the one below it (a manager also does what a lead does).
ROLE_RANK: dict[Role, int] = {Role.STAFF: 0, Role.LEAD: 1, Role.MANAGER: 2, Role.ADMIN: 3}


class AuditAction(StrEnum):
    """What an audit row records (``audit.action``) for the web app and user management."""

    USER_ADDED = "user_added"
    USER_REVOKED = "user_revoked"
    USER_RESET = "user_reset"
    PASSWORD_CHANGED = "password_changed"
    SIGNED_IN = "signed_in"
    OUTCOME_LOGGED = "outcome_logged"
    OUTCOME_AMENDED = "outcome_amended"  # detail: the outcome before and after
    OUTCOMES_IMPORTED = "outcomes_imported"  # a filled-in call list, one row per file
    CAMPAIGN_LAUNCHED = "campaign_launched"
    RUN_PAUSED = "run_paused"
    RUN_RESUMED = "run_resumed"
