"""Member pages: list, start, take (autosave JSON), submit, result; no answer key before the end."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import sqlalchemy as sa

from lms.exams.questions.models import QuestionType
from lms.exams.quizzes import attempts as quiz_attempts
from lms.exams.quizzes.models import AttemptState, QuizAttempt, ReviewPolicy
from lms.extensions import db
from tests.exams.factories import EXPLANATION_TEXT, SINGLE_ANSWER_TEXT


def _start(client, quiz):
    response = client.post(f"/quizzes/{quiz.id}/start")
    assert response.status_code == 302
    attempt_id = int(response.headers["Location"].rsplit("/", 1)[-1])
    return attempt_id


def test_member_sees_open_quizzes_and_the_home_panel(client, login, make_user, make_quiz, four_questions):
    member = make_user()
    login(member)
    quiz = make_quiz(four_questions, title="党章知识测验", time_limit_seconds=600)
    make_quiz(four_questions, title="未发布的测验", publish=False)
    page = client.get("/quizzes/").get_data(as_text=True)
    assert "党章知识测验" in page
    assert "未发布的测验" not in page
    home = client.get("/").get_data(as_text=True)
    assert "党章知识测验" in home
    assert f"/quizzes/{quiz.id}" in home


def test_quiz_outside_the_audience_is_not_found(client, login, make_user, make_quiz, four_questions):
    from lms.auth.models import MemberStatus

    login(make_user(status=MemberStatus.ACTIVIST))
    quiz = make_quiz(four_questions, audience_statuses=[MemberStatus.PROBATIONARY])
    assert client.get(f"/quizzes/{quiz.id}").status_code == 404
    assert client.post(f"/quizzes/{quiz.id}/start").status_code == 404


def test_member_takes_a_quiz_end_to_end(client, login, make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    login(member)
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    attempt_id = _start(client, quiz)
    page = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-testid="timer"' in page
    assert "10:00" in page
    save = client.post(
        f"/quizzes/attempts/{attempt_id}/answers", json={"position": 1, "response": {"choice": 1}, "seq": 1}
    )
    assert save.status_code == 200
    body = save.get_json()
    assert body["ok"] and body["applied"] and body["answered"]
    assert body["remaining_seconds"] <= 600
    state = client.get(f"/quizzes/attempts/{attempt_id}/state").get_json()
    assert state["answers"]["1"] == {"response": {"choice": 1}, "seq": 1, "answered": True}
    assert state["answers"]["2"]["answered"] is False
    done = client.post(f"/quizzes/attempts/{attempt_id}/submit")
    assert done.status_code == 302
    result = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-testid="score"' in result
    assert EXPLANATION_TEXT in result  # review after submit (the default policy)


def test_reload_keeps_answers_and_the_deadline(client, login, make_user, make_quiz, four_questions, frozen_clock):
    member = make_user()
    login(member)
    quiz = make_quiz(four_questions, time_limit_seconds=600)
    attempt_id = _start(client, quiz)
    client.post(f"/quizzes/attempts/{attempt_id}/answers", json={"position": 3, "response": {"value": False}, "seq": 1})
    client.post(
        f"/quizzes/attempts/{attempt_id}/answers",
        json={"position": 4, "response": {"blanks": ["为人民服务", ""]}, "seq": 1},
    )
    frozen_clock.advance(125)
    page = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-remaining="475"' in page
    assert re.search(r'value="false" checked', page)
    assert 'value="为人民服务"' in page
    assert client.post(f"/quizzes/{quiz.id}/start").headers["Location"].endswith(f"/attempts/{attempt_id}")


def test_attempt_page_and_json_never_contain_the_key_or_explanation(client, login, make_user, make_question, make_quiz):
    member = make_user()
    login(member)
    questions = [
        make_question(QuestionType.SINGLE, options=["甲", SINGLE_ANSWER_TEXT, "丙"], answer={"choice": 1}),
        make_question(QuestionType.FILL, stem="党的宗旨是____。", answer={"blanks": [["全心全意为人民服务"]]}),
        make_question(QuestionType.TRUE_FALSE, answer={"value": True}),
    ]
    quiz = make_quiz(questions, shuffle_options=True)
    attempt_id = _start(client, quiz)
    bodies = [
        client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True),
        client.get(f"/quizzes/attempts/{attempt_id}/state").get_data(as_text=True),
        client.post(
            f"/quizzes/attempts/{attempt_id}/answers", json={"position": 2, "response": {"blanks": ["错"]}, "seq": 1}
        ).get_data(as_text=True),
        client.get(f"/quizzes/{quiz.id}").get_data(as_text=True),
    ]
    for body in bodies:
        assert EXPLANATION_TEXT not in body
        assert "全心全意为人民服务" not in body
        assert "解析" not in body
        assert '"answer"' not in body and '"choices": [' not in body
        assert "is-right" not in body and "tf_correct" not in body
    # The right option's text is shown as an option, but nothing marks it.
    page = bodies[0]
    assert SINGLE_ANSWER_TEXT in page
    assert "is-right" not in page and "Right answer" not in page and "正确答案" not in page


def test_result_without_review_rights_shows_score_only(client, login, make_user, make_quiz, four_questions):
    member = make_user()
    login(member)
    quiz = make_quiz(four_questions, review_policy=ReviewPolicy.SCORE_ONLY)
    attempt_id = _start(client, quiz)
    client.post(f"/quizzes/attempts/{attempt_id}/submit")
    page = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-testid="score"' in page
    assert EXPLANATION_TEXT not in page
    assert "全心全意为人民服务" not in page


def test_answers_after_close_appear_only_once_the_quiz_has_closed(
    client, login, make_user, make_quiz, four_questions, frozen_clock
):
    member = make_user()
    login(member)
    close = frozen_clock.now + timedelta(hours=1)
    quiz = make_quiz(four_questions, review_policy=ReviewPolicy.AFTER_CLOSE, close_at=close)
    attempt_id = _start(client, quiz)
    client.post(f"/quizzes/attempts/{attempt_id}/submit")
    assert EXPLANATION_TEXT not in client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    frozen_clock.set(close + timedelta(seconds=1))
    assert EXPLANATION_TEXT in client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)


def test_save_after_the_grace_is_refused_and_the_page_shows_the_result(
    client, login, make_user, make_quiz, four_questions, frozen_clock
):
    member = make_user()
    login(member)
    quiz = make_quiz(four_questions, time_limit_seconds=60)
    attempt_id = _start(client, quiz)
    frozen_clock.advance(60 + 21)
    response = client.post(
        f"/quizzes/attempts/{attempt_id}/answers", json={"position": 1, "response": {"choice": 1}, "seq": 1}
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["final"] is True
    assert "截止" in body["error"] or "时间" in body["error"]
    assert db.session.get(QuizAttempt, attempt_id).state == AttemptState.FINISHED


def test_bad_save_payloads_get_clear_errors(client, login, make_user, make_quiz, four_questions):
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions))
    url = f"/quizzes/attempts/{attempt_id}/answers"
    assert client.post(url, data="not json", content_type="application/json").status_code == 400
    assert client.post(url, json={"position": "1", "response": None, "seq": 1}).status_code == 400
    refused = client.post(url, json={"position": 1, "response": {"choice": 99}, "seq": 1})
    assert refused.status_code == 422
    assert refused.get_json()["error"]
    assert client.post(url, json={"position": 1, "response": {"choice": 0}}).status_code == 422
    assert client.post(url, json={"position": 77, "response": {"choice": 0}, "seq": 1}).status_code == 404


def test_other_members_attempt_is_not_found(client, login, make_user, make_quiz, four_questions, frozen_clock):
    owner = make_user()
    quiz = make_quiz(four_questions)
    attempt = quiz_attempts.start_attempt(quiz, owner, frozen_clock.now)
    db.session.commit()
    login(make_user())
    assert client.get(f"/quizzes/attempts/{attempt.id}").status_code == 404
    assert client.get(f"/quizzes/attempts/{attempt.id}/state").status_code == 404
    assert client.post(f"/quizzes/attempts/{attempt.id}/submit").status_code == 404
    saved = client.post(f"/quizzes/attempts/{attempt.id}/answers", json={"position": 1, "response": None, "seq": 1})
    assert saved.status_code == 404


def test_double_submit_is_harmless(client, login, make_user, make_quiz, four_questions):
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions))
    first = client.post(f"/quizzes/attempts/{attempt_id}/submit")
    second = client.post(f"/quizzes/attempts/{attempt_id}/submit", headers={"Accept": "application/json"})
    assert first.status_code == 302
    assert second.get_json()["state"] == "finished"


def test_start_refusal_is_flashed_on_the_quiz_page(client, login, make_user, make_quiz, four_questions):
    login(make_user())
    quiz = make_quiz(four_questions, attempts_allowed=1)
    attempt_id = _start(client, quiz)
    client.post(f"/quizzes/attempts/{attempt_id}/submit")
    refused = client.post(f"/quizzes/{quiz.id}/start", follow_redirects=True)
    assert "1" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(QuizAttempt.id))) == 1


def test_overdue_attempt_is_finalized_by_the_next_page_view(
    client, login, make_user, make_quiz, four_questions, frozen_clock
):
    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions, time_limit_seconds=60))
    frozen_clock.advance(3600)
    page = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    assert 'data-testid="result"' in page
    assert db.session.get(QuizAttempt, attempt_id).state == AttemptState.FINISHED


def test_my_attempts_lists_the_members_own_attempts(client, login, make_user, make_quiz, four_questions, frozen_clock):
    other = make_user()
    quiz = make_quiz(four_questions, title="只属于我的测验")
    quiz_attempts.start_attempt(quiz, other, frozen_clock.now)
    db.session.commit()
    login(make_user())
    assert "只属于我的测验" not in client.get("/quizzes/mine").get_data(as_text=True)


def test_report_an_error_in_a_question(client, login, make_user, make_quiz, four_questions):
    from lms.exams.quizzes.models import QuestionReport

    login(make_user())
    attempt_id = _start(client, make_quiz(four_questions))
    url = f"/quizzes/attempts/{attempt_id}/questions/2/report"
    empty = client.post(url, json={"text": " "})
    assert empty.status_code == 422 and empty.get_json()["error"]
    ok = client.post(url, json={"text": "选项C也应当是正确答案"})
    assert ok.get_json()["ok"]
    client.post(url, json={"text": "补充：题干有错别字"})
    reports = db.session.scalars(sa.select(QuestionReport)).all()
    assert len(reports) == 1
    assert "补充" in reports[0].text and "选项C" in reports[0].text
    assert "选项C" in client.get("/quizzes/reports").get_data(as_text=True)


def test_quiz_page_open_for_hours_still_saves_with_csrf_on(
    app, client, login, make_user, make_quiz, make_question, monkeypatch
):
    """The CSRF token has no time limit (WTF_CSRF_TIME_LIMIT = None): a long exam keeps saving."""
    import time as real_time

    import itsdangerous.timed

    app.config["WTF_CSRF_ENABLED"] = True
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None
    login(make_user())
    quiz = make_quiz([make_question(QuestionType.TRUE_FALSE)], time_limit_seconds=4 * 3600)

    def token_of(page: str) -> str:
        return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    token = token_of(client.get(f"/quizzes/{quiz.id}").get_data(as_text=True))
    assert client.post(f"/quizzes/{quiz.id}/start").status_code == 400  # forms need the token too
    started = client.post(f"/quizzes/{quiz.id}/start", data={"csrf_token": token})
    assert started.status_code == 302
    attempt_path = started.headers["Location"]
    token = token_of(client.get(attempt_path).get_data(as_text=True))
    save_url = attempt_path + "/answers"

    # Two hours later (as itsdangerous sees the clock), the page opened then saves again.
    later = real_time.time() + 2 * 3600

    class TwoHoursLater:
        @staticmethod
        def time():
            return later

    monkeypatch.setattr(itsdangerous.timed, "time", TwoHoursLater)

    def save(value: bool, seq: int, headers=None):
        body = json.dumps({"position": 1, "response": {"value": value}, "seq": seq})
        return client.post(save_url, data=body, content_type="application/json", headers=headers or {})

    assert save(True, 1).status_code == 400  # no token: refused
    saved = save(True, 1, {"X-CSRFToken": token})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["applied"] is True
    # The control: with a one-hour limit the same token would have been refused.
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    assert save(False, 2, {"X-CSRFToken": token}).status_code == 400


def test_fill_in_blanks_render_one_input_each_inline_or_below(client, login, make_user, make_question, make_quiz):
    login(make_user())
    inline = make_question(
        QuestionType.FILL, stem="党的宗旨是（ ），理想是{{2}}与{{1}}。", answer={"blanks": [["甲"], ["乙"]]}
    )
    below = make_question(QuestionType.FILL, stem="请写出党的宗旨和最高理想。", answer={"blanks": [["甲"], ["乙"]]})
    attempt_id = _start(client, make_quiz([inline, below]))
    page = client.get(f"/quizzes/attempts/{attempt_id}").get_data(as_text=True)
    for position in (1, 2):
        for blank in (1, 2):
            assert page.count(f'data-testid="blank-{position}-{blank}"') == 1
    first = page[page.index('id="q1"') : page.index('id="q2"')]
    assert "{{" not in first and "（ ）" in first  # numbered markers win; the brackets stay text
    assert first.index('data-testid="blank-1-2"') < first.index('data-testid="blank-1-1"')  # {{2}} comes first
    second = page[page.index('id="q2"') :]
    assert 'class="quiz-blanks"' in second
