"""The mail outbox: queued in the request, sent once by the job, retried with backoff, given up, purged."""

from __future__ import annotations

import smtplib
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms import clock
from lms.extensions import db
from lms.jobs import scheduled_jobs
from lms.notices import outbox
from lms.notices.models import OutgoingMail


class FakeSMTP:
    """Stands in for ``smtplib.SMTP``: records connections and messages; can refuse to connect or refuse a recipient."""

    connections: list[FakeSMTP] = []
    fail_connect: Exception | None = None
    refuse: set[str] = set()

    def __init__(self, host, port, timeout=None) -> None:
        if FakeSMTP.fail_connect is not None:
            raise FakeSMTP.fail_connect
        self.host, self.port, self.timeout = host, port, timeout
        self.messages = []
        FakeSMTP.connections.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def send_message(self, message) -> None:
        if message["To"] in FakeSMTP.refuse:
            raise smtplib.SMTPRecipientsRefused({message["To"]: (550, b"no such mailbox")})
        self.messages.append(message)

    @classmethod
    def sent(cls) -> list[tuple[str, str]]:
        return [(m["To"], m["Subject"]) for c in cls.connections for m in c.messages]


@pytest.fixture
def smtp(app, monkeypatch):
    app.config.update(SMTP_HOST="smtp.example.org", SMTP_PORT=25)
    FakeSMTP.connections, FakeSMTP.fail_connect, FakeSMTP.refuse = [], None, set()
    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    return FakeSMTP


def rows() -> list[OutgoingMail]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutgoingMail).order_by(OutgoingMail.id)))


def queue(n: int, now) -> None:
    for i in range(n):
        outbox.queue_mail(f"m{i}@example.org", f"主题{i}", "正文", now=now)
    db.session.commit()


def test_the_outbox_is_a_job_every_worker_may_run(app):
    specs = {spec.name: spec for spec in scheduled_jobs()}
    assert specs["mail-outbox"].func is outbox.send_outbox and specs["mail-outbox"].needs_lease is False
    assert specs["mail-outbox-purge"].func is outbox.purge_outbox and specs["mail-outbox-purge"].needs_lease


def test_queue_mail_only_inserts_and_nothing_without_smtp(app, frozen_clock, monkeypatch):
    monkeypatch.setattr("smtplib.SMTP", lambda *a, **k: pytest.fail("queue_mail talked to SMTP"))
    assert outbox.queue_mail("a@example.org", "x", "y", now=frozen_clock.now) is None  # no SMTP host
    assert outbox.queue_mails([("a@example.org", "x", "y")], now=frozen_clock.now) == 0
    app.config["SMTP_HOST"] = "smtp.example.org"
    mail = outbox.queue_mail(" a@example.org ", "标题", "正文", now=frozen_clock.now)
    assert mail.id and mail.recipient == "a@example.org" and mail.sent_at is None and mail.attempts == 0
    assert outbox.queue_mail("", "x", "y", now=frozen_clock.now) is None
    assert outbox.queue_mails([("b@example.org", "x", "y"), (None, "x", "y")], now=frozen_clock.now) == 1
    db.session.rollback()  # flushed, never committed: the caller's transaction decides
    assert rows() == []


def test_the_job_sends_queued_mail_once_over_one_connection(smtp, frozen_clock):
    queue(3, frozen_clock.now)
    assert outbox.send_outbox(frozen_clock.now) == 3
    assert len(smtp.connections) == 1
    assert sorted(smtp.sent()) == [(f"m{i}@example.org", f"主题{i}") for i in range(3)]
    assert all(m.sent_at == frozen_clock.now and m.attempts == 1 and m.claimed_by is None for m in rows())
    assert outbox.send_outbox(frozen_clock.advance(3600)) == 0
    assert len(smtp.sent()) == 3 and len(smtp.connections) == 1  # nothing to send: no connection either


def test_batches_are_limited(app, smtp, frozen_clock):
    app.config["MAIL_OUTBOX_BATCH"] = 2
    queue(3, frozen_clock.now)
    assert outbox.send_outbox(frozen_clock.now) == 2
    assert outbox.send_outbox(frozen_clock.now) == 1
    assert [m["To"] for m in smtp.connections[0].messages] == ["m0@example.org", "m1@example.org"]


def test_a_failing_server_is_retried_with_backoff(smtp, frozen_clock):
    queue(2, frozen_clock.now)
    smtp.fail_connect = ConnectionRefusedError(111, "Connection refused")
    assert outbox.send_outbox(frozen_clock.now) == 0
    first = rows()
    assert [(m.attempts, m.sent_at, m.claimed_by) for m in first] == [(1, None, None)] * 2
    assert all("Connection refused" in m.last_error for m in first)
    assert all(m.send_after == frozen_clock.now + timedelta(seconds=120) for m in first)
    smtp.fail_connect = None
    assert outbox.send_outbox(frozen_clock.advance(60)) == 0  # not due yet
    assert smtp.sent() == []
    assert outbox.send_outbox(frozen_clock.advance(61)) == 2
    assert [(m.attempts, m.sent_at) for m in rows()] == [(2, frozen_clock.now)] * 2


def test_a_refused_recipient_fails_alone(smtp, frozen_clock):
    queue(3, frozen_clock.now)
    smtp.refuse = {"m1@example.org"}
    assert outbox.send_outbox(frozen_clock.now) == 2
    refused = rows()[1]
    assert refused.sent_at is None and refused.attempts == 1 and "no such mailbox" in refused.last_error
    assert [m.sent_at is not None for m in rows()] == [True, False, True]


def test_the_job_gives_up_after_the_limit_and_keeps_the_error(app, smtp, frozen_clock):
    app.config["MAIL_OUTBOX_MAX_ATTEMPTS"] = 3
    queue(1, frozen_clock.now)
    smtp.fail_connect = TimeoutError("timed out")
    for _ in range(5):
        outbox.send_outbox(frozen_clock.now)
        frozen_clock.advance(7 * 3600)
    [mail] = rows()
    assert mail.attempts == 3 and mail.sent_at is None and mail.failed_at is not None
    assert mail.last_error == "TimeoutError: timed out"
    smtp.fail_connect = None
    assert outbox.send_outbox(frozen_clock.advance(86400)) == 0
    assert smtp.sent() == []


def test_two_claims_never_take_the_same_row(app, smtp, frozen_clock):
    queue(3, frozen_clock.now)
    first = outbox.claim_batch(now=frozen_clock.now, limit=2)
    db.session.commit()
    second = outbox.claim_batch(now=frozen_clock.now, limit=2)
    db.session.commit()
    assert first.token != second.token
    assert [m.recipient for m in first.mails] == ["m0@example.org", "m1@example.org"]
    assert [m.recipient for m in second.mails] == ["m2@example.org"]
    assert outbox.claim_batch(now=frozen_clock.now).mails == []
    # Both senders died: their claims lapse and another sender takes the mails.
    later = frozen_clock.advance(601)
    third = outbox.claim_batch(now=later)
    db.session.commit()
    assert [m.id for m in third.mails] == [m.id for m in first.mails + second.mails]
    # The dead sender's results no longer count.
    outbox.record_sent(first.mails[0], first.token, now=later)
    db.session.commit()
    assert rows()[0].sent_at is None and rows()[0].claimed_by == third.token


def test_mail_not_tried_before_the_claims_half_life_is_handed_back_uncounted(app, smtp, frozen_clock):
    app.config["MAIL_OUTBOX_CLAIM_SECONDS"] = 0  # the batch's time is up before the first mail
    queue(2, frozen_clock.now)
    assert outbox.send_outbox(frozen_clock.now) == 0
    assert smtp.sent() == []
    assert [(m.claimed_by, m.attempts, m.last_error) for m in rows()] == [(None, 0, None)] * 2
    app.config["MAIL_OUTBOX_CLAIM_SECONDS"] = 600
    assert outbox.send_outbox(frozen_clock.now) == 2


@pytest.mark.postgres  # concurrent claims: FOR UPDATE SKIP LOCKED / the write lock
def test_concurrent_senders_never_send_a_mail_twice(app, smtp):
    app.config["MAIL_OUTBOX_BATCH"] = 3
    queue(12, clock.utcnow())
    errors = []
    start = threading.Barrier(3)

    def worker() -> None:
        with app.app_context():
            try:
                start.wait()
                while outbox.send_outbox(clock.utcnow()):
                    pass
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    sent = [to for to, _subject in smtp.sent()]
    assert len(sent) == len(set(sent)) == 12
    assert all(m.sent_at is not None and m.attempts == 1 for m in rows())


def test_nothing_is_sent_while_smtp_is_off(app, smtp, frozen_clock):
    queue(1, frozen_clock.now)
    app.config["SMTP_HOST"] = ""
    assert outbox.send_outbox(frozen_clock.now) == 0
    assert smtp.connections == [] and rows()[0].attempts == 0


def test_old_sent_and_given_up_mail_is_purged(app, smtp, frozen_clock):
    now = frozen_clock.now
    queue(4, now - timedelta(days=40))
    old_sent, recent_sent, old_failed, pending = rows()
    old_sent.sent_at = now - timedelta(days=31)
    recent_sent.sent_at = now - timedelta(days=29)
    old_failed.failed_at, old_failed.last_error = now - timedelta(days=31), "550"
    db.session.commit()
    assert outbox.purge_outbox(now) == 2
    db.session.commit()
    assert [m.id for m in rows()] == [recent_sent.id, pending.id]


def test_a_reset_request_queues_and_the_job_sends_the_link(app, client, make_user, smtp, monkeypatch):
    make_user(username="zhang", email="zhang@example.org")
    monkeypatch.setattr("smtplib.SMTP", lambda *a, **k: pytest.fail("the request talked to SMTP"))
    assert client.post("/auth/forgot/", data={"login": "zhang"}).status_code == 302
    assert client.post("/auth/forgot/", data={"login": "nobody"}).status_code == 302
    assert [m.recipient for m in rows()] == ["zhang@example.org"]
    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    assert outbox.send_outbox(clock.utcnow()) == 1
    [message] = smtp.connections[0].messages
    assert message["To"] == "zhang@example.org" and "/auth/forgot/" in message.get_content()


def test_a_reset_mail_is_given_up_once_its_link_has_expired(app, client, make_user, smtp, frozen_clock):
    make_user(username="li", email="li@example.org")
    assert client.post("/auth/forgot/", data={"login": "li"}).status_code == 302
    [mail] = rows()
    assert mail.expires_at is not None and mail.expires_at > frozen_clock.now
    smtp.fail_connect = ConnectionRefusedError(111, "Connection refused")
    assert outbox.send_outbox(frozen_clock.now) == 0  # first try fails; retries wait 2, 4, 8... minutes
    smtp.fail_connect = None
    late = frozen_clock.advance((mail.expires_at - frozen_clock.now).total_seconds() + 1)
    assert outbox.send_outbox(late) == 0 and smtp.sent() == []  # the link no longer works: not sent
    [mail] = rows()
    assert mail.failed_at == late and mail.sent_at is None and "expired" in mail.last_error
