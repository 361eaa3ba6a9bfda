"""The web app's users: who they are, their role and stores, their password.

``revisit user add NAME --role ROLE --store ID…`` prints a one-time password that must be
changed at the first sign-in; ``reset`` gives a new one (and lets a revoked user back in);
``revoke`` stops a user signing in. Every change ends the user's open sessions (a session
carries :attr:`SignedIn.stamp`, which a password change moves) and leaves an audit row.
Passwords are hashed with argon2 through ``pwdlib`` (its recommended parameters); a hash
made with older parameters is upgraded at the next sign-in.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from revisit.access.audit import audit
from revisit.campaigns.statuses import ROLE_RANK, AuditAction, Role
from revisit.db.tables import STORES, USERS, utcnow
from revisit.errors import RevisitError

HASHER = PasswordHash.recommended()
MIN_PASSWORD = 10
LANGUAGES = ("zh", "en")
# No 0/O, 1/l/I: read off a screen and typed on a phone.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for an unknown name (it costs the same time as a known
    one); made at the first sign-in, not when the module is imported — every CLI command
    imports it, and an argon2 hash takes most of a second."""
    return HASHER.hash(secrets.token_urlsafe(16))


class UserError(RevisitError):
    """A user that cannot be added or changed (unknown role, store or name; a weak password)."""

    exit_code = 1


@dataclass(frozen=True)
class SignedIn:
    """The user of a request (``request.state.user``): ``store_ids`` is None for every
    store (admin); ``language`` None means the browser's; ``stamp`` ties a session to the
    password it was opened with (a reset or revoke ends it)."""

    id: int
    name: str
    role: Role
    store_ids: frozenset[str] | None
    language: str | None
    must_change_password: bool = False
    stamp: int = 0

    def sees_store(self, store_id: str | None) -> bool:
        """Whether this user may see data of ``store_id``."""
        return self.store_ids is None or (store_id is not None and store_id in self.store_ids)

    def at_least(self, role: Role) -> bool:
        """Whether this user's role is ``role`` or above (staff < lead < manager < admin)."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def covers(self, store_ids: Sequence[str]) -> bool:
        """Whether this user sees every store of ``store_ids`` (an empty list: all stores,
        which only an unscoped user covers)."""
        if self.store_ids is None:
            return True
        return bool(store_ids) and set(store_ids) <= self.store_ids


def one_time_password() -> str:
    """A random 12-character password from an alphabet without look-alike characters."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def _stamp(value: dt.datetime) -> int:
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return round(aware.timestamp() * 1_000_000)


def _signed_in(row: Any) -> SignedIn:
    stores = None if row.stores is None else frozenset(row.stores)
    return SignedIn(
        id=row.id, name=row.name, role=Role(row.role), store_ids=stores,
        language=row.language, must_change_password=row.must_change_password,
        stamp=_stamp(row.password_changed_at),
    )  # fmt: skip


def _check_scope(conn: Connection, role: Role, stores: Sequence[str]) -> list[str]:
    if role is Role.ADMIN:
        if stores:
            raise UserError("an admin sees every store: leave out --store")
        return []
    if not stores:
        raise UserError(f"a {role} user needs at least one --store")
    wanted = sorted(set(stores))
    known = set(
        conn.execute(select(STORES.c.store_id).where(STORES.c.store_id.in_(wanted))).scalars()
    )
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise UserError(f"unknown store(s) {', '.join(unknown)}: import the stores file first")
    return wanted


def parse_role(text: str) -> Role:
    """The :class:`Role` called ``text``; raises :class:`UserError` listing the roles."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UserError(f"unknown role {text!r}; roles: {', '.join(Role)}") from None


def add_user(
    conn: Connection,
    *,
    name: str,
    role: Role,
    stores: Sequence[str],
    language: str | None = None,
    actor: str,
) -> str:
    """Add a user in ``conn``'s transaction; returns their one-time password (shown once,
    never stored). Raises :class:`UserError` for a taken name, a scope that does not fit the
    role (an admin has none, the others at least one known store) or an unknown language."""
    name = name.strip()
    if not name:
        raise UserError("a user needs a name")
    if language is not None and language not in LANGUAGES:
        raise UserError(f"unknown language {language!r}; one of {', '.join(LANGUAGES)}")
    if _row(conn, name) is not None:
        raise UserError(
            f"user {name!r} already exists (revisit user reset {name} for a new password)"
        )
    scope = _check_scope(conn, role, stores)
    password, now = one_time_password(), utcnow()
    conn.execute(
        USERS.insert().values(
            name=name, role=role.value, stores=None if role is Role.ADMIN else scope,
            language=language, password_hash=HASHER.hash(password), must_change_password=True,
            active=True, created_at=now, password_changed_at=now,
        )
    )  # fmt: skip
    detail = {"role": role.value, "stores": scope or "all", "language": language}
    audit(conn, actor=actor, action=AuditAction.USER_ADDED, entity="user", entity_id=name,
          detail=detail, now=now)  # fmt: skip
    return password


def _row(conn: Connection, name: str) -> Any:
    return conn.execute(select(USERS).where(USERS.c.name == name.strip())).first()


def _existing(conn: Connection, name: str) -> Any:
    row = _row(conn, name)
    if row is None:
        raise UserError(f"no user {name!r} (revisit user list shows them)")
    return row


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user by name: name, role, stores (``all`` for an admin), language, active, and
    whether the one-time password is still to be changed."""
    rows = conn.execute(select(USERS).order_by(USERS.c.name))
    return [
        {
            "name": r.name, "role": r.role,
            "stores": "all" if r.stores is None else ",".join(r.stores),
            "language": r.language or "browser", "active": r.active,
            "must_change_password": r.must_change_password,
        }
        for r in rows
    ]  # fmt: skip


def revoke_user(conn: Connection, *, name: str, actor: str) -> None:
    """Stop ``name`` signing in and end their sessions. Raises :class:`UserError` for an
    unknown name."""
    row, now = _existing(conn, name), utcnow()
    conn.execute(
        update(USERS).where(USERS.c.id == row.id).values(active=False, password_changed_at=now)
    )
    audit(conn, actor=actor, action=AuditAction.USER_REVOKED, entity="user",
          entity_id=row.name, now=now)  # fmt: skip


def reset_user(conn: Connection, *, name: str, actor: str) -> str:
    """A new one-time password for ``name`` (returned), to be changed at the next sign-in;
    ends their sessions and lets a revoked user back in. Raises :class:`UserError` for an
    unknown name."""
    row, password, now = _existing(conn, name), one_time_password(), utcnow()
    conn.execute(
        update(USERS).where(USERS.c.id == row.id).values(
            password_hash=HASHER.hash(password), must_change_password=True, active=True,
            password_changed_at=now,
        )
    )  # fmt: skip
    audit(conn, actor=actor, action=AuditAction.USER_RESET, entity="user",
          entity_id=row.name, now=now)  # fmt: skip
    return password


def authenticate(conn: Connection, *, name: str, password: str) -> SignedIn | None:
    """The active user ``name`` when ``password`` is theirs, else None (an unknown name
    takes as long as a wrong password). Upgrades an outdated hash."""
    row = _row(conn, name) if name.strip() else None
    if row is None or not row.active:
        HASHER.verify(password, _dummy_hash())
        return None
    valid, updated = HASHER.verify_and_update(password, row.password_hash)
    if not valid:
        return None
    if updated:
        conn.execute(update(USERS).where(USERS.c.id == row.id).values(password_hash=updated))
    return _signed_in(row)


def session_user(conn: Connection, *, user_id: int, stamp: int) -> SignedIn | None:
    """The user a session names, while they are active and their password is the one the
    session was opened with; None otherwise (the session is over)."""
    row = conn.execute(select(USERS).where(USERS.c.id == user_id)).first()
    if row is None or not row.active:
        return None
    user = _signed_in(row)
    return user if user.stamp == stamp else None


def change_password(conn: Connection, *, user: SignedIn, current: str, new: str) -> SignedIn:
    """Set ``user``'s password to ``new`` after checking ``current``; returns the user with
    the new session stamp. Raises :class:`UserError` when ``current`` is wrong or ``new`` is
    shorter than :data:`MIN_PASSWORD` characters or equals ``current``."""
    row = conn.execute(select(USERS).where(USERS.c.id == user.id)).first()
    if row is None or not HASHER.verify(current, row.password_hash):
        raise UserError("current password: wrong")
    if len(new) < MIN_PASSWORD:
        raise UserError(f"new password: at least {MIN_PASSWORD} characters")
    if new == current:
        raise UserError("new password: must differ from the current one")
    now = utcnow()
    conn.execute(
        update(USERS).where(USERS.c.id == user.id).values(
            password_hash=HASHER.hash(new), must_change_password=False, password_changed_at=now
        )
    )  # fmt: skip
    audit(conn, actor=user.name, action=AuditAction.PASSWORD_CHANGED, entity="user",
          entity_id=user.name, now=now)  # fmt: skip
    changed = conn.execute(select(USERS).where(USERS.c.id == user.id)).one()
    return _signed_in(changed)
