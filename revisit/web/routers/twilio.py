"""Twilio's webhooks: ``POST /twilio/status`` (delivery status callbacks) and
``POST /twilio/inbound`` (replies). Both answer 403 unless Twilio signed the request
(:mod:`revisit.web.twilio_signature`); the work is done by the domain modules
(:mod:`revisit.delivery.callbacks`, :mod:`revisit.outcomes.replies`)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Response

from revisit.db.tables import utcnow
from revisit.delivery.callbacks import StatusUpdate, known_status, record_statuses
from revisit.dms.phones import mask_phone
from revisit.outcomes.replies import record_reply
from revisit.web.deps import EngineDep
from revisit.web.twilio_signature import TwilioForm

router = APIRouter(prefix="/twilio", tags=["twilio"])
_log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@router.post("/status")
def status_callback(form: TwilioForm, engine: EngineDep) -> Response:
    """A message's new status (``MessageSid``, ``MessageStatus``, ``ErrorCode``): applied
    if it moves the message forward, kept until the message is recorded if it is not yet.
    400 when the form has no SID or an unknown status (nothing changes)."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status:
        raise HTTPException(400, "MessageSid and MessageStatus are required")
    if not known_status(status):
        raise HTTPException(400, f"unknown MessageStatus {status!r} for {sid}")
    update = StatusUpdate(sid=sid, status=status, error_code=form.get("ErrorCode") or None)
    with engine.begin() as conn:
        result = record_statuses(conn, updates=[update], now=utcnow())
    if result.pending:
        _log.info("status %s for %s kept until the message is recorded", status, sid)
    return Response(status_code=204)


@router.post("/inbound")
def inbound(form: TwilioForm, engine: EngineDep) -> Response:
    """A reply (``From``, ``Body``, ``MessageSid``): opt-out / opt-in words change the
    do-not-contact list, every reply is kept for staff. Answers empty TwiML (no auto-reply)."""
    sender, sid = form.get("From", ""), form.get("MessageSid") or form.get("SmsSid") or ""
    if not sender or not sid:
        raise HTTPException(400, "From and MessageSid are required")
    with engine.begin() as conn:
        result = record_reply(conn, from_phone=sender, body=form.get("Body", ""), sid=sid)
    if not result.customer_ids:
        _log.info("reply from %s matches no customer (kept in the audit)", mask_phone(sender))
    return Response(EMPTY_TWIML, media_type="application/xml")
