"""Delivery: the outbox (every write to contacts and campaign runs), SMS dispatch, the
channels behind one small interface (SMS providers and call lists), rate limiting and staff
notification."""
