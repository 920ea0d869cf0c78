"""The outbox page for organisation admins: states, filters, retry and discard (audited), and no reset link shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from lms.audit import AuditEntry
from lms.auth.models import Role
from lms.extensions import db
from lms.notices import outbox, outbox_admin
from lms.notices.models import OutgoingMail

pytestmark = pytest.mark.usefixtures("english")

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TOKEN = "eyJ1IjozfQ.Zx1Q2w.Sup3r-Secret_ResetToken-abcdefghijklmnop"
PAGE = "/admin/outbox"


def mail(recipient: str, subject: str = "Learning reminder", *, body: str = "Hello", **fields) -> OutgoingMail:
    fields.setdefault("created_at", NOW - timedelta(hours=1))
    fields.setdefault("send_after", fields["created_at"])
    row = OutgoingMail(recipient=recipient, subject=subject, body=body, **fields)
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture
def outbox_rows(app, frozen_clock):
    """One mail in each state (and one being sent), committed."""
    frozen_clock.set(NOW)
    rows = {
        "waiting": mail("wait@example.org", attempts=2, send_after=NOW + timedelta(minutes=4),
                        last_error="SMTPServerDisconnected: Connection unexpectedly closed"),
        "sending": mail("busy@example.org", claimed_by="worker:1:abc", claimed_until=NOW + timedelta(minutes=5)),
        "sent": mail("done@example.org", sent_at=NOW - timedelta(minutes=50), attempts=1),
        "failed": mail("gone@example.org", failed_at=NOW - timedelta(minutes=5), attempts=12,
                       last_error="SMTPRecipientsRefused: {'gone@example.org': (550, b'no such mailbox')}"),
        "expired": mail("reset@example.org", "Vanguard: set a new password",
                        body=f"Open https://lms.example.org/auth/forgot/{TOKEN} within 30 minutes",
                        expires_at=NOW - timedelta(minutes=20), failed_at=NOW - timedelta(minutes=20),
                        attempts=3, last_error=outbox.EXPIRED),
        "late": mail("late@example.org", "Vanguard: set a new password", body=f"/auth/forgot/{TOKEN}",
                     expires_at=NOW - timedelta(minutes=1)),  # not yet given up by the job: expired all the same
    }  # fmt: skip
    db.session.commit()
    return rows


@pytest.fixture
def admin(make_user, login):
    user = make_user(role=Role.ADMIN, username="boss", name="Admin", locale="en")
    login(user)
    return user


def audit_rows(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def recipients_shown(html: str) -> set[str]:
    return set(re.findall(r'<td class="text-break outbox-address">([^<]+)</td>', html))


def row_of(html: str, row: OutgoingMail) -> str:
    return html.split(f'data-testid="mail-{row.id}"')[1].split("</tr>")[0]


def test_only_organisation_admins_reach_the_page_and_its_actions(client, make_user, login, outbox_rows):
    waiting = outbox_rows["waiting"].id
    for role in (Role.LEARNER, Role.SECRETARY, Role.SUBTREE_ADMIN):
        login(make_user(role=role, username=f"u-{role}"))
        assert client.get(PAGE).status_code == 403
        assert client.post(f"{PAGE}/{waiting}/retry").status_code == 403
        assert client.post(f"{PAGE}/{waiting}/discard").status_code == 403
        menu = client.get("/").get_data(as_text=True)
        assert PAGE not in menu
    db.session.expire_all()
    assert db.session.get(OutgoingMail, waiting).attempts == 2
    assert not audit_rows("outgoing_mail.retry") and not audit_rows("outgoing_mail.discard")
    client.post("/auth/logout")
    assert client.get(PAGE).status_code in (302, 401)  # to the login page


def test_the_admin_menu_links_the_page(client, admin):
    assert f'href="{PAGE}"' in client.get("/").get_data(as_text=True)


def test_states_are_counted_and_filtered(client, admin, outbox_rows):
    counts = outbox_admin.state_counts(NOW)
    assert counts == {"waiting": 2, "sent": 1, "failed": 1, "expired": 2, "discarded": 0}
    everything = client.get(PAGE).get_data(as_text=True)
    assert recipients_shown(everything) == {r.recipient for r in outbox_rows.values()}
    expected = {
        "waiting": {"wait@example.org", "busy@example.org"},
        "sent": {"done@example.org"},
        "failed": {"gone@example.org"},
        "expired": {"reset@example.org", "late@example.org"},
        "discarded": set(),
    }
    for state, wanted in expected.items():
        html = client.get(f"{PAGE}?state={state}").get_data(as_text=True)
        assert recipients_shown(html) == wanted, state
        assert 'aria-current="page"' in html
    # By part of the address, case-insensitive, within a state; a wildcard is taken literally.
    assert recipients_shown(client.get(f"{PAGE}?recipient=GONE@").get_data(as_text=True)) == {"gone@example.org"}
    assert recipients_shown(client.get(f"{PAGE}?state=sent&recipient=gone").get_data(as_text=True)) == set()
    assert "No mail matches." in client.get(f"{PAGE}?recipient=%25").get_data(as_text=True)
    # A state that does not exist is ignored, not an error.
    assert client.get(f"{PAGE}?state=nonsense&page=x").status_code == 200


def test_the_row_shows_attempts_next_try_and_the_last_error_in_plain_text(client, admin, outbox_rows):
    html = client.get(f"{PAGE}?state=waiting").get_data(as_text=True)
    row = row_of(html, outbox_rows["waiting"])
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in row
    assert '<td data-label="Attempts">2</td>' in row
    assert "Send now" in row and "Discard" in row
    busy = row_of(html, outbox_rows["sending"])
    assert "Sending" in busy and "retry" not in busy and "discard" not in busy  # a worker holds it
    failed = client.get(f"{PAGE}?state=failed").get_data(as_text=True)
    assert "SMTPRecipientsRefused: {&#39;gone@example.org&#39;: (550, b&#39;no such mailbox&#39;)}" in failed
    assert "Try again" in failed and "/discard" not in failed
    expired = client.get(f"{PAGE}?state=expired").get_data(as_text=True)
    assert "Its link expired before it could be sent." in expired
    assert "/retry" not in expired and "/discard" not in expired


def test_a_reset_link_never_reaches_the_page(client, admin, outbox_rows):
    # Even an SMTP error that quotes the message shows no link or token.
    outbox_rows["failed"].last_error = f"SMTPDataError: (554, b'rejected: https://lms.example.org/auth/forgot/{TOKEN}')"
    db.session.commit()
    for query in ("", "?state=expired", "?state=failed", "?state=waiting"):
        html = client.get(PAGE + query).get_data(as_text=True)
        assert TOKEN not in html and "/auth/forgot/" not in html
        assert "Zx1Q2w" not in html
    assert "[link hidden]" in client.get(f"{PAGE}?state=failed").get_data(as_text=True)


def test_retry_makes_a_failed_mail_due_now_with_a_fresh_budget_and_is_audited(client, admin, outbox_rows):
    failed = outbox_rows["failed"]
    back = f"{PAGE}?state=failed&recipient=gone"
    response = client.post(f"{PAGE}/{failed.id}/retry", data={"next": back})
    assert response.status_code == 302 and response.headers["Location"] == back
    db.session.expire_all()
    row = db.session.get(OutgoingMail, failed.id)
    assert (row.failed_at, row.attempts, row.send_after) == (None, 0, NOW)
    assert outbox_admin.state_of(row, NOW) == "waiting"
    (entry,) = audit_rows("outgoing_mail.retry")
    assert (entry.object_type, entry.object_id, entry.actor_id) == ("outgoing_mail", str(failed.id), admin.id)
    assert entry.object_label == "gone@example.org"
    assert entry.before["attempts"] == 12 and entry.after["attempts"] == 0
    assert entry.before["failed_at"] is not None and entry.after["failed_at"] is None
    assert "body" not in entry.before and "body" not in entry.after
    assert f"Mail #{failed.id} will be sent at the next run." in client.get(back).get_data(as_text=True)
    log = client.get("/admin/audit").get_data(as_text=True)
    assert "Outgoing mail" in log and "Queued to send again" in log and "Attempts: 12 → 0" in log


def test_the_retried_mail_is_claimed_by_the_job(app, admin, client, outbox_rows):
    app.config["SMTP_HOST"] = "smtp.example.org"
    failed = outbox_rows["failed"]
    client.post(f"{PAGE}/{failed.id}/retry")
    claimed = [m.id for m in outbox.claim_batch(now=NOW).mails]
    assert failed.id in claimed and outbox_rows["sent"].id not in claimed


def test_send_now_brings_a_waiting_mail_forward(client, admin, outbox_rows):
    waiting = outbox_rows["waiting"]
    client.post(f"{PAGE}/{waiting.id}/retry")
    db.session.expire_all()
    row = db.session.get(OutgoingMail, waiting.id)
    assert (row.send_after, row.attempts) == (NOW, 0)
    assert row.last_error.startswith("SMTPServerDisconnected")  # the last error stays for the record


def test_discard_gives_up_a_waiting_mail_and_retry_undoes_it(client, admin, outbox_rows):
    waiting = outbox_rows["waiting"]
    response = client.post(f"{PAGE}/{waiting.id}/discard", follow_redirects=True)
    assert f"Mail #{waiting.id} will not be sent." in response.get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(OutgoingMail, waiting.id)
    assert row.failed_at == NOW and row.last_error == outbox.DISCARDED
    assert outbox_admin.state_of(row, NOW) == "discarded"
    assert outbox_admin.state_counts(NOW)["discarded"] == 1
    assert waiting.id not in [m.id for m in outbox.claim_batch(now=NOW + timedelta(hours=1)).mails]
    db.session.rollback()
    (entry,) = audit_rows("outgoing_mail.discard")
    assert entry.after["last_error"] == outbox.DISCARDED and entry.object_id == str(waiting.id)
    html = client.get(f"{PAGE}?state=discarded").get_data(as_text=True)
    assert recipients_shown(html) == {"wait@example.org"} and "Discarded by an administrator." in html

    client.post(f"{PAGE}/{waiting.id}/retry")
    db.session.expire_all()
    row = db.session.get(OutgoingMail, waiting.id)
    assert row.failed_at is None and row.last_error is None and outbox_admin.state_of(row, NOW) == "waiting"


@pytest.mark.parametrize(
    ("key", "action", "message"),
    [
        ("sent", "retry", "This mail has already been sent."),
        ("sent", "discard", "This mail has already been sent."),
        ("expired", "retry", "This mail has expired"),
        ("late", "retry", "This mail has expired"),
        ("sending", "retry", "This mail is being sent right now."),
        ("sending", "discard", "This mail is being sent right now."),
        ("failed", "discard", "Only a waiting mail can be discarded"),
    ],
)
def test_actions_that_do_not_apply_are_refused_with_a_message(client, admin, outbox_rows, key, action, message):
    row = outbox_rows[key]
    before = outbox_admin.audit.snapshot(row, outbox_admin.AUDITED_FIELDS)
    response = client.post(f"{PAGE}/{row.id}/{action}", follow_redirects=True)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert outbox_admin.audit.snapshot(db.session.get(OutgoingMail, row.id), outbox_admin.AUDITED_FIELDS) == before
    assert not audit_rows(f"outgoing_mail.{action}")


def test_a_mail_that_is_not_there_gives_a_message_not_an_error(client, admin, outbox_rows):
    for action in ("retry", "discard"):
        response = client.post(f"{PAGE}/987654/{action}", follow_redirects=True)
        assert response.status_code == 200
        assert "Mail #987654 is not in the outbox" in response.get_data(as_text=True)
    assert client.post(f"{PAGE}/abc/retry").status_code == 404
    assert client.post(f"{PAGE}/99999999999999999999999/retry").status_code in (400, 404)


def test_next_must_be_the_outbox_page(client, admin, outbox_rows):
    for target in ("https://evil.example/", "//evil.example/", "/admin/users"):
        response = client.post(f"{PAGE}/{outbox_rows['waiting'].id}/retry", data={"next": target})
        assert response.headers["Location"] == PAGE


def test_the_actions_need_the_csrf_token(app, client, admin, outbox_rows):
    app.config["WTF_CSRF_ENABLED"] = True
    waiting = outbox_rows["waiting"]
    assert client.post(f"{PAGE}/{waiting.id}/discard").status_code == 400
    html = client.get(PAGE).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert client.post(f"{PAGE}/{waiting.id}/discard", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(OutgoingMail, waiting.id).last_error == outbox.DISCARDED


def test_the_page_says_when_no_smtp_server_is_set(app, client, admin, outbox_rows):
    app.config["SMTP_HOST"] = ""
    assert 'data-testid="mail-off"' in client.get(PAGE).get_data(as_text=True)
    app.config["SMTP_HOST"] = "smtp.example.org"
    assert 'data-testid="mail-off"' not in client.get(PAGE).get_data(as_text=True)


def test_the_page_is_paginated(client, admin, frozen_clock):
    frozen_clock.set(NOW)
    for n in range(55):
        mail(f"m{n:02d}@example.org", created_at=NOW - timedelta(minutes=n))
    db.session.commit()
    first = client.get(PAGE).get_data(as_text=True)
    second = client.get(f"{PAGE}?page=2").get_data(as_text=True)
    assert len(recipients_shown(first)) == 50 and "m00@example.org" in first
    assert recipients_shown(second) == {f"m{n}@example.org" for n in range(50, 55)}
    assert f'href="{PAGE}?page=2"' in first


def test_the_outbox_page_is_in_chinese_by_default(app, make_user, login, outbox_rows):
    client = app.test_client()
    login(make_user(role=Role.ADMIN, username="zh-admin"), on=client)
    html = client.get(PAGE).get_data(as_text=True)
    assert "邮件发件箱" in html and "等待发送" in html and "邮件中的链接在发出前已失效。" in html


def test_the_demo_outbox_shows_no_reset_token(app, client, admin):
    from lms.notices import demo

    assert demo.seed_demo() and demo.seed_demo() == []  # idempotent
    db.session.commit()
    html = client.get(PAGE).get_data(as_text=True)
    assert "demo-reset-token-never-shown" not in html and "/auth/forgot/" not in html
    assert outbox_admin.state_counts(datetime.now(UTC)) == {"waiting": 0, "sent": 3, "failed": 1, "expired": 1,
                                                            "discarded": 0}  # fmt: skip
