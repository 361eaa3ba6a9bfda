"""Who may use the web app: users and their stores (:mod:`revisit.access.users`), the audit
trail (:mod:`revisit.access.audit`) and the sign-in throttle (:mod:`revisit.access.throttle`).

The CLI (``revisit user …``) and the web app (:mod:`revisit.web`) call these; nothing here
knows about HTTP."""
