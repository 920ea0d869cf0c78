"""Account and branch rules: creation, login, passwords, deactivation, the branch tree."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

from lms import clock
from lms.auth.models import Branch, BranchKind, MemberStatus, Role, User
from lms.errors import Conflict, InvalidState, NotFound, ValidationFailed
from lms.extensions import db

MIN_PASSWORD_LENGTH = 8
# zxcvbn's estimate, 0 (guessable in < 10^3 tries) .. 4 (> 10^10): 2 means more than
# 10^6 guesses, far beyond what the login limits allow, while a phrase with a
# number (e.g. "Welcome2026x") still passes; "Password1", "Qwerty123" do not.
MIN_PASSWORD_SCORE = 2
# The demo's password is printed in the README: never accepted for a real account.
DEMO_PASSWORD = "Vanguard2026"  # noqa: S105 (refused, not a secret)
# Words anyone would try first against this site.
SITE_WORDS = ("vanguard", "xianfeng", "xianfengxuetang", "dangyuan", "dangjian", "dangzhibu", "party")
PHONE_RE = re.compile(r"^1\d{10}$")
ID_NUMBER_RE = re.compile(r"^\d{17}[\dx]$")
USERNAME_RE = re.compile(r"^[\w.\-@]{2,80}$")
# A hash made once at import so a login for an unknown name costs the same as a real one.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def normalize_login(value: str) -> str:
    """Normalise a login name: NFKC (full-width to half-width), trimmed, case-folded."""
    return unicodedata.normalize("NFKC", value or "").strip().casefold()


def hash_password(password: str) -> str:
    """Hash with Werkzeug's default KDF (scrypt)."""
    return generate_password_hash(password)


def check_password_strength(password: str, user_inputs: Iterable[str | None] = ()) -> None:
    """Raise ValidationFailed unless the password is long, mixed and hard to guess.

    Hard to guess: not the demo's password, and zxcvbn's score at least
    MIN_PASSWORD_SCORE, counting ``user_inputs`` (the account's username, name,
    phone, ID number) and the site's own words as easy guesses.
    """
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(_l("The password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), "password")
    if password.isdigit() or password.isalpha():
        raise ValidationFailed(_l("The password needs both letters and digits."), "password")
    if password.casefold() == DEMO_PASSWORD.casefold():
        raise ValidationFailed(_l("This is the demo password that everyone knows: choose another one."), "password")
    from zxcvbn import zxcvbn

    words = [*SITE_WORDS, *(str(word) for word in user_inputs if word)]
    if zxcvbn(password[:64], user_inputs=words)["score"] < MIN_PASSWORD_SCORE:
        raise ValidationFailed(
            _l(
                "This password is too easy to guess (a common password, a keyboard pattern, "
                "or your name or number with a year). Choose a longer, less predictable one."
            ),
            "password",
        )


def _personal_words(user: User | UserFields) -> list[str | None]:
    return [user.username, user.name, user.phone, user.id_number, (user.email or "").split("@")[0]]


@dataclass(frozen=True)
class UserFields:
    """What an admin (or an import row) sets on an account."""

    username: str
    name: str
    phone: str | None = None
    id_number: str | None = None
    email: str | None = None
    status: MemberStatus = MemberStatus.FULL
    role: Role = Role.LEARNER
    branch_id: int | None = None
    admitted_on: date | None = None
    probation_end: date | None = None
    is_committee_member: bool = False


def clean_user_fields(fields: UserFields, *, existing_id: int | None = None) -> UserFields:
    """Normalise and validate account fields; raise ValidationFailed naming the field.

    Uniqueness of username, phone and id number is checked against the database
    (ignoring the account ``existing_id``).
    """
    username = normalize_login(fields.username)
    if not USERNAME_RE.match(username):
        raise ValidationFailed(_l("A username has 2-80 letters, digits or . - _ @."), "username")
    name = unicodedata.normalize("NFKC", fields.name or "").strip()
    if not name:
        raise ValidationFailed(_l("The name is required."), "name")
    phone = normalize_login(fields.phone or "") or None
    if phone and not PHONE_RE.match(phone):
        raise ValidationFailed(_l("A mobile number has 11 digits and starts with 1."), "phone")
    id_number = normalize_login(fields.id_number or "") or None
    if id_number and not ID_NUMBER_RE.match(id_number):
        raise ValidationFailed(_l("An ID number has 18 characters: 17 digits and a digit or X."), "id_number")
    email = (fields.email or "").strip() or None
    if email and ("@" not in email or len(email) > 254):
        raise ValidationFailed(_l("The e-mail address is not valid."), "email")
    if fields.status == MemberStatus.PROBATIONARY and not fields.probation_end:
        raise ValidationFailed(_l("A probationary member needs a probation end date."), "probation_end")
    if fields.branch_id is not None and db.session.get(Branch, fields.branch_id) is None:
        raise ValidationFailed(_l("The branch does not exist."), "branch_id")
    if fields.role == Role.SECRETARY and fields.branch_id is None:
        raise ValidationFailed(_l("A secretary needs a branch."), "branch_id")
    if fields.role == Role.SUBTREE_ADMIN and fields.branch_id is None:
        raise ValidationFailed(_l("A subtree administrator needs a branch."), "branch_id")
    for column, value, label in (
        (User.username, username, _l("This username is already taken.")),
        (User.phone, phone, _l("This mobile number is already used by another account.")),
        (User.id_number, id_number, _l("This ID number is already used by another account.")),
    ):
        if value is None:
            continue
        query = sa.select(User.id).where(column == value)
        if existing_id is not None:
            query = query.where(User.id != existing_id)
        if db.session.scalar(query) is not None:
            raise ValidationFailed(label, column.key)
    return UserFields(
        username=username,
        name=name,
        phone=phone,
        id_number=id_number,
        email=email,
        status=fields.status,
        role=fields.role,
        branch_id=fields.branch_id,
        admitted_on=fields.admitted_on,
        probation_end=fields.probation_end if fields.status == MemberStatus.PROBATIONARY else None,
        is_committee_member=fields.is_committee_member,
    )


def create_user(fields: UserFields, password: str, *, must_change_password: bool = False) -> User:
    """Create an account from validated fields. Raises ValidationFailed."""
    cleaned = clean_user_fields(fields)
    check_password_strength(password, _personal_words(cleaned))
    user = User(
        **cleaned.__dict__,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
    )
    db.session.add(user)
    db.session.flush()
    return user


def update_user(user: User, fields: UserFields) -> User:
    """Change an account's details. Raises ValidationFailed."""
    cleaned = clean_user_fields(fields, existing_id=user.id)
    for key, value in cleaned.__dict__.items():
        setattr(user, key, value)
    return user


def find_user_by_login(login: str) -> User | None:
    """The account whose username, phone or id number equals the normalised ``login``."""
    key = normalize_login(login)
    if not key:
        return None
    return db.session.scalar(
        sa.select(User).where(sa.or_(User.username == key, User.phone == key, User.id_number == key)).limit(1)
    )


def authenticate(login: str, password: str) -> User:
    """Return the active account for these credentials or raise ValidationFailed.

    Wrong name and wrong password give the same message, so the form does not
    tell which accounts exist.
    """
    user = find_user_by_login(login)
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        raise ValidationFailed(_l("Wrong login name or password."))
    if not check_password_hash(user.password_hash, password or ""):
        raise ValidationFailed(_l("Wrong login name or password."))
    if not user.is_active:
        raise ValidationFailed(_l("This account has been deactivated. Please contact your branch secretary."))
    user.last_login_at = clock.utcnow()
    return user


def end_other_sessions(user: User) -> None:
    """Invalidate every session of ``user`` (each carries the old session version)."""
    user.session_version = (user.session_version or 0) + 1


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change a user's own password; ends the user's other sessions."""
    if not check_password_hash(user.password_hash, current_password or ""):
        raise ValidationFailed(_l("The current password is wrong."), "current_password")
    if current_password == new_password:
        raise ValidationFailed(_l("The new password must differ from the current one."), "new_password")
    set_own_password(user, new_password)


def set_own_password(user: User, new_password: str) -> None:
    """The user's own new password (changed, or reset from an e-mailed link): the same rules either way.

    Ends the user's other sessions; the new password is final (no change forced at next login).
    """
    check_password_strength(new_password, _personal_words(user))
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    end_other_sessions(user)


def reset_password(user: User, new_password: str) -> None:
    """An admin sets a temporary password; the user must change it at next login."""
    check_password_strength(new_password, _personal_words(user))
    user.password_hash = hash_password(new_password)
    user.must_change_password = True
    end_other_sessions(user)


def set_active(user: User, active: bool, *, actor: User) -> None:
    """Deactivate (ending all sessions) or reactivate an account."""
    if user.id == actor.id and not active:
        raise InvalidState(_l("You cannot deactivate your own account."))
    user.is_active = active
    if not active:
        end_other_sessions(user)


# --- Branch tree -------------------------------------------------------------------


def _child_path(parent: Branch | None, branch_id: int) -> str:
    return f"{parent.path if parent else '/'}{branch_id}/"


def create_branch(name: str, kind: BranchKind, parent_id: int | None) -> Branch:
    """Add a branch under ``parent_id`` (None: a root). Names are unique among siblings."""
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not name:
        raise ValidationFailed(_l("The name is required."), "name")
    parent = None
    if parent_id is not None:
        parent = db.session.get(Branch, parent_id)
        if parent is None:
            raise NotFound(_l("The parent branch does not exist."))
    _check_sibling_name(name, parent_id, None)
    branch = Branch(name=name, kind=kind, parent_id=parent_id)
    db.session.add(branch)
    db.session.flush()
    branch.path = _child_path(parent, branch.id)
    return branch


def _check_sibling_name(name: str, parent_id: int | None, own_id: int | None) -> None:
    same_parent = Branch.parent_id.is_(None) if parent_id is None else Branch.parent_id == parent_id
    query = sa.select(Branch.id).where(Branch.name == name, same_parent)
    if own_id is not None:
        query = query.where(Branch.id != own_id)
    if db.session.scalar(query) is not None:
        raise Conflict(_l("A branch with this name already exists here."), "name")


def rename_branch(branch: Branch, name: str, kind: BranchKind | None = None) -> None:
    """Rename a branch (and optionally change its kind)."""
    name = unicodedata.normalize("NFKC", name or "").strip()
    if not name:
        raise ValidationFailed(_l("The name is required."), "name")
    _check_sibling_name(name, branch.parent_id, branch.id)
    branch.name = name
    if kind is not None:
        branch.kind = kind


def move_branch(branch: Branch, new_parent_id: int | None) -> None:
    """Move a branch (with its subtree) under another parent; never under itself."""
    parent = None
    if new_parent_id is not None:
        parent = db.session.get(Branch, new_parent_id)
        if parent is None:
            raise NotFound(_l("The parent branch does not exist."))
        if parent.path.startswith(branch.path):
            raise InvalidState(_l("A branch cannot be moved under itself or its own sub-branches."))
    _check_sibling_name(branch.name, new_parent_id, branch.id)
    old_prefix = branch.path
    new_prefix = _child_path(parent, branch.id)
    # One UPDATE rewrites the paths of the whole subtree.
    db.session.execute(
        sa.update(Branch)
        .where(Branch.path.startswith(old_prefix))
        .values(path=sa.literal(new_prefix, sa.String) + sa.func.substr(Branch.path, len(old_prefix) + 1))
        .execution_options(synchronize_session=False)
    )
    branch.parent_id = new_parent_id
    db.session.flush()
    db.session.expire_all()


def subtree_ids_query(branch: Branch) -> sa.Select:
    """SELECT of the ids of ``branch`` and all branches below it."""
    return sa.select(Branch.id).where(Branch.path.startswith(branch.path))


def branch_tree() -> list[Branch]:
    """Every branch in tree order (parents before children), one query."""
    branches = db.session.scalars(sa.select(Branch)).all()
    by_parent: dict[int | None, list[Branch]] = {}
    for branch in branches:
        by_parent.setdefault(branch.parent_id, []).append(branch)
    ordered: list[Branch] = []

    def walk(parent_id: int | None) -> None:
        for child in sorted(by_parent.get(parent_id, []), key=lambda b: (b.position, b.name)):
            ordered.append(child)
            walk(child.id)

    walk(None)
    return ordered
