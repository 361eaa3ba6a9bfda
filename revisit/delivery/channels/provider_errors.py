"""Provider error codes sorted by what they are about: the account or the sender, or one
recipient.

An error about the **account or the sender** (the region is not enabled, the From number is
not ours, the account is suspended, …) would come back for every contact of the run, so it
stops the run at once, like bad credentials, and leaves every contact pending: once the
account is fixed a re-run sends them all. Marking contacts failed for it would burn the
whole list. An error about **one recipient** (opted out, not a mobile number, …) fails that
contact only.

Some answers may be either: Twilio's 21612 (this To and From "cannot be connected" — an
unreachable number, or a sender that reaches no one in that country), and any code not
listed here as about one recipient (:data:`RECIPIENT_CODES`). The dispatcher holds those
contacts until the next answer shows which: a message accepted fails them alone; a few in
a row with nothing accepted between them stop the run, all pending. An account-level code
missing from :data:`ACCOUNT_ERRORS` therefore still never burns the list.

Codes and their meaning come from Twilio's error catalogue
(https://www.twilio.com/docs/api/errors/<code>), checked one by one.
"""

from __future__ import annotations

# code → what is wrong, and what to fix (one line, shown when the run stops).
ACCOUNT_ERRORS: dict[int, str] = {
    10001: "the Twilio account is not active; check its status in the Twilio console",
    20005: "the Twilio account is not active; check its status in the Twilio console",
    20008: "test credentials cannot send real SMS; set the live TWILIO_ACCOUNT_SID and "
    "TWILIO_AUTH_TOKEN",
    20404: "the account was not found; check TWILIO_ACCOUNT_SID",
    21212: "the From number is not valid; set TWILIO_FROM to one of the account's numbers "
    "in E.164 form (+1…) or a registered sender ID",
    21219: "a trial account sends only to verified numbers; upgrade the Twilio account",
    21408: "sending to this region is not enabled for the account; enable the destination "
    "country (+86 China) under Messaging > Settings > Geo permissions in the Twilio console",
    21603: "no sender is set; set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID",
    21606: "the From number cannot send SMS to this destination (not SMS-capable, or not "
    "the account's); use an SMS-capable number of this account or a Messaging Service",
    21608: "a trial account sends only to verified numbers; upgrade the Twilio account",
    21611: "the sender's queue is full (Twilio keeps at most hours of messages per sender); "
    "wait for it to drain, send at a lower --rate or through a Messaging Service, then re-run",
    21659: "the From number is not a Twilio number (or is still being ported); set "
    "TWILIO_FROM to a number of this account",
    21660: "the From number belongs to another account; use the credentials of the account "
    "that owns it, or one of this account's numbers",
    21704: "the Messaging Service has no senders; add a number to it in the Twilio console",
    21705: "the Messaging Service is not valid; check TWILIO_MESSAGING_SERVICE_SID",
    30002: "the Twilio account is suspended; contact Twilio support",
    30007: "carriers filter this sender's messages as spam; review the text and register "
    "the sender before sending again",
    30032: "the toll-free sender is not verified; complete its verification in the console",
    30034: "the sender is not registered (US A2P 10DLC); register it in the Twilio console",
}

# About one recipient or this message only: that contact fails, the run goes on.
RECIPIENT_CODES: frozenset[int] = frozenset(
    {
        21211,  # invalid To number
        21265,  # To is a short code
        21266,  # To and From are the same number
        21268,  # To is a premium-rate number
        21602,  # no message body
        21604,  # no To number
        21610,  # the recipient replied STOP
        21614,  # To is not a mobile number
        21617,  # the body is over 1,600 characters
        30003,  # unreachable handset
        30004,  # blocked by the recipient or their carrier
        30005,  # unknown handset
        30006,  # landline or unreachable carrier
    }
)
# One unreachable recipient, or a sender that reaches no one in that country.
UNROUTABLE_CODES: frozenset[int] = frozenset({21612})

# HTTP statuses that say the account may not do this at all, whatever the code.
ACCOUNT_HTTP_STATUSES: frozenset[int] = frozenset({403, 404})


def account_problem(code: int | None, http_status: int | None = None) -> str | None:
    """What to fix when ``code`` (or, without a known code, ``http_status``) is about the
    account or the sender; None when it is not."""
    if code is not None and code in ACCOUNT_ERRORS:
        return ACCOUNT_ERRORS[code]
    if http_status in ACCOUNT_HTTP_STATUSES:
        return f"the provider refused the account (HTTP {http_status}); check the account"
    return None
