"""Challenge mode (挑战答题): the server's per-question timer, no key before judging, streaks and weekly boards."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from lms.errors import InvalidState, ValidationFailed
from lms.exams.contests import challenge as challenges
from lms.exams.contests.models import ChallengeEnd
from lms.exams.questions import types as question_types
from lms.exams.questions.models import Question, QuestionType
from lms.extensions import db
from tests.exams.factories import EXPLANATION_TEXT

pytestmark = pytest.mark.postgres  # row locks and weekly boards (window functions)

NOW = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Shanghai
FILL_KEY = "全心全意为人民服务"


@pytest.fixture
def game(app, make_question):
    """A 30-second challenge over a bank of eight questions of every type."""
    kinds = [QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.TRUE_FALSE, QuestionType.FILL] * 2
    questions = [make_question(kind) for kind in kinds]
    item = challenges.create_challenge(
        challenges.ChallengeSettings(title="每日挑战", bank_ids=[questions[0].bank_id]), created_by=None, now=NOW
    )
    db.session.commit()
    return item


def _right(run) -> dict:
    question = db.session.get(Question, run.question_id)
    kind = QuestionType(question.type)
    if kind == QuestionType.FILL:
        return {"blanks": [accepted[0] for accepted in question.answer["blanks"]]}
    if kind == QuestionType.TRUE_FALSE:
        return {"value": question.answer["value"]}
    return question_types.to_shown_order(kind, run.option_order, question.answer)


def _wrong(run) -> dict:
    question = db.session.get(Question, run.question_id)
    kind = QuestionType(question.type)
    right = _right(run)
    if kind == QuestionType.FILL:
        return {"blanks": ["错" for _ in right["blanks"]]}
    if kind == QuestionType.TRUE_FALSE:
        return {"value": not right["value"]}
    if kind == QuestionType.SINGLE:
        return {"choice": (right["choice"] + 1) % len(run.option_order)}
    return {"choices": [c for c in range(len(run.option_order)) if c not in right["choices"]][:1]}


def test_settings_are_checked(app):
    with pytest.raises(ValidationFailed) as error:
        challenges.create_challenge(
            challenges.ChallengeSettings(title="挑战", seconds_per_question=2), created_by=None, now=NOW
        )
    assert error.value.field == "seconds_per_question"
    with pytest.raises(ValidationFailed) as error:  # active, but no question to ask
        challenges.create_challenge(challenges.ChallengeSettings(title="挑战"), created_by=None, now=NOW)
    assert error.value.field == "bank_ids"


def test_a_question_is_sent_without_its_key(app, game, make_user):
    member = make_user()
    for seed in range(8):
        run = challenges.start_run(game, member, NOW, rng=random.Random(seed))
        shown = json.dumps(challenges.current_question(run, game, NOW).as_json(), ensure_ascii=False)
        assert "answer" not in shown and "choice" not in shown
        assert EXPLANATION_TEXT not in shown and FILL_KEY not in shown
        assert json.loads(shown)["seconds_left"] == 30.0


def test_right_answers_build_a_streak_of_new_questions_and_a_wrong_one_ends_the_game(app, game, make_user):
    member = make_user()
    rng = random.Random(3)
    run = challenges.start_run(game, member, NOW, rng=rng)
    asked = {run.question_id}
    now = NOW
    for expected in (1, 2, 3):
        now += timedelta(seconds=5)
        verdict = challenges.answer(game, member, run.id, run.question_number, _right(run), now, rng=rng)
        assert verdict.correct and verdict.streak == expected and not verdict.over
        assert run.question_id not in asked  # never the same question twice in a game
        asked.add(run.question_id)
        assert verdict.next_question.seconds_left == 30.0  # each question has its own timer
    now += timedelta(seconds=5)
    verdict = challenges.answer(game, member, run.id, run.question_number, _wrong(run), now, rng=rng)
    assert not verdict.correct and verdict.over and verdict.end_reason == ChallengeEnd.WRONG
    assert verdict.streak == 3 and verdict.best == 3
    assert verdict.answer is not None and verdict.explanation == EXPLANATION_TEXT  # revealed after judging
    assert run.time_used_ms == 15_000
    with pytest.raises(InvalidState):
        challenges.answer(game, member, run.id, run.question_number, _right(run), now)


def test_the_server_timer_decides_a_late_answer_is_a_timeout(app, game, make_user):
    member = make_user()
    run = challenges.start_run(game, member, NOW, rng=random.Random(1))
    in_time = NOW + timedelta(seconds=30 + challenges.ANSWER_GRACE_SECONDS)  # in flight at the deadline
    verdict = challenges.answer(game, member, run.id, 1, _right(run), in_time, rng=random.Random(1))
    assert verdict.correct
    late = in_time + timedelta(seconds=30 + challenges.ANSWER_GRACE_SECONDS, milliseconds=1)
    verdict = challenges.answer(game, member, run.id, 2, _right(run), late)
    assert verdict.timed_out and verdict.over and not verdict.correct
    assert run.end_reason == ChallengeEnd.TIMEOUT
    assert run.finished_at == run.question_deadline
    assert verdict.answer is not None


def test_a_second_tab_resumes_the_same_question_with_the_time_left(app, game, make_user):
    member = make_user()
    first = challenges.start_run(game, member, NOW, rng=random.Random(2))
    db.session.commit()
    later = NOW + timedelta(seconds=12)
    again = challenges.open_run(game, member, later)
    assert again.id == first.id
    assert challenges.current_question(again, game, later).seconds_left == 18.0


def test_a_game_left_alone_is_over_when_its_question_times_out(app, game, make_user):
    member = make_user()
    run = challenges.start_run(game, member, NOW, rng=random.Random(2))
    db.session.commit()
    assert challenges.open_run(game, member, NOW + timedelta(seconds=40)) is None
    db.session.refresh(run)
    assert run.end_reason == ChallengeEnd.TIMEOUT and run.open_slot is None


def test_starting_again_ends_the_unfinished_game(app, game, make_user):
    member = make_user()
    first = challenges.start_run(game, member, NOW)
    second = challenges.start_run(game, member, NOW + timedelta(seconds=3))
    assert second.id != first.id
    assert first.end_reason == ChallengeEnd.ABANDONED


def test_answering_every_question_clears_the_game(app, make_question, make_user):
    questions = [make_question(QuestionType.TRUE_FALSE) for _ in range(2)]
    item = challenges.create_challenge(
        challenges.ChallengeSettings(title="小挑战", bank_ids=[questions[0].bank_id]), created_by=None, now=NOW
    )
    member = make_user()
    run = challenges.start_run(item, member, NOW)
    challenges.answer(item, member, run.id, 1, _right(run), NOW + timedelta(seconds=1))
    verdict = challenges.answer(item, member, run.id, 2, _right(run), NOW + timedelta(seconds=2))
    assert verdict.correct and verdict.over and verdict.end_reason == ChallengeEnd.CLEARED


def _play(game, member, started, streak, seconds_each=4):
    rng = random.Random(streak)
    run = challenges.start_run(game, member, started, rng=rng)
    now = started
    for _ in range(streak):
        now += timedelta(seconds=seconds_each)
        challenges.answer(game, member, run.id, run.question_number, _right(run), now, rng=rng)
    now += timedelta(seconds=1)
    challenges.answer(game, member, run.id, run.question_number, _wrong(run), now, rng=rng)
    db.session.commit()
    return run


def test_weekly_board_of_a_branch_and_personal_best(app, game, make_user, make_branch):
    home, away = make_branch("一支部"), make_branch("二支部")
    fast, slow, steady = (make_user(name=n, branch=home) for n in ("快", "慢", "稳"))
    stranger = make_user(name="外人", branch=away)
    _play(game, fast, NOW, 3, seconds_each=2)
    _play(game, slow, NOW, 3, seconds_each=6)
    _play(game, steady, NOW, 1)
    _play(game, steady, NOW + timedelta(hours=1), 2)  # a better game later counts
    _play(game, stranger, NOW, 5)
    _play(game, fast, NOW - timedelta(days=7), 6)  # last week
    board = challenges.weekly_board(game, home.id, challenges.week_start(NOW))
    assert [(row["name"], row["rank"], row["streak"]) for row in board] == [("快", 1, 3), ("慢", 2, 3), ("稳", 3, 2)]
    assert challenges.personal_best(game, fast) == 6
    assert challenges.week_start(NOW).isoformat() == "2026-05-04"  # the local Monday


# --- Pages ------------------------------------------------------------------------------------------


def test_challenge_endpoints_judge_on_the_server(client, login, make_user, game, frozen_clock):
    member = make_user()
    login(member)
    frozen_clock.set(NOW)
    page = client.get(f"/contests/challenges/{game.id}").get_data(as_text=True)
    assert "challenge.js" in page
    started = client.post(f"/contests/challenges/{game.id}/start", json={}).get_json()
    assert started["ok"] and started["question"]["number"] == 1
    assert FILL_KEY not in json.dumps(started, ensure_ascii=False) and "answer" not in started["question"]
    state = client.get(f"/contests/challenges/{game.id}/state").get_json()
    assert state["run_id"] == started["run_id"] and state["question"] == started["question"]
    run = challenges.open_run(game, member, NOW)
    frozen_clock.advance(5)
    body = client.post(
        f"/contests/challenges/{game.id}/answer", json={"run_id": run.id, "number": 1, "response": _wrong(run)}
    ).get_json()
    assert body["correct"] is False and body["over"] and body["answer"] is not None
    replay = client.post(
        f"/contests/challenges/{game.id}/answer", json={"run_id": run.id, "number": 1, "response": _right(run)}
    )
    assert replay.status_code == 409
    board = client.get(f"/contests/challenges/{game.id}/board").get_json()
    assert board["ok"] and board["rows"] == []  # a streak of 0 is not on the board
    bad = client.post(f"/contests/challenges/{game.id}/answer", json={"run_id": "x"})
    assert bad.status_code == 400


def test_a_member_cannot_see_another_branchs_weekly_board(client, login, make_user, make_branch, game):
    login(make_user())
    other = make_branch("别的支部")
    assert client.get(f"/contests/challenges/{game.id}/board?branch={other.id}").status_code == 404


def test_a_revealed_choice_answer_names_each_option_with_its_text(app, make_question, make_user):
    question = make_question(QuestionType.MULTIPLE, stem="下列属于“三会一课”的有？")
    item = challenges.create_challenge(
        challenges.ChallengeSettings(title="多选挑战", bank_ids=[question.bank_id]), created_by=None, now=NOW
    )
    member = make_user()
    run = challenges.start_run(item, member, NOW, rng=random.Random(5))
    verdict = challenges.answer(item, member, run.id, 1, _wrong(run), NOW + timedelta(seconds=3))
    shown = [(option["letter"], option["text"]) for option in verdict.answer["options"]]
    # As the member saw them: the letters in the shuffled order, each with its option text.
    right = {"支部党员大会", "支部委员会", "党小组会"}
    assert {text for _letter, text in shown} == right
    for letter, text in shown:
        assert run.option_order["ABCDEFGH".index(letter)] == question.options.index(text)


def test_a_fill_in_question_reaches_the_page_without_raw_markers(app, make_question, make_user):
    question = make_question(QuestionType.FILL)
    item = challenges.create_challenge(
        challenges.ChallengeSettings(title="填空挑战", bank_ids=[question.bank_id]), created_by=None, now=NOW
    )
    run = challenges.start_run(item, make_user(), NOW, rng=random.Random(1))
    shown = challenges.current_question(run, item, NOW).as_json()
    assert "{{" not in shown["stem"] and "（____）" in shown["stem"]
    assert shown["stem_parts"][1] == 0  # blank numbers are 0-based: the page labels them n + 1


IMAGE = "@@PLUGINFILE@@/" + "ab" * 16 + ".png"


@pytest.fixture
def in_request(app):
    with app.test_request_context():  # the JSON names image URLs, as in the request that sends it
        yield


def test_an_html_question_is_asked_and_revealed_as_the_quiz_pages_show_it(
    in_request, make_question, make_bank, make_user
):
    """Stem, options and explanation of an HTML question reach the page as cleaned HTML with their images."""
    question = make_question(
        QuestionType.MULTIPLE,
        stem=f'<!--html--><p>看图 <img src="{IMAGE}" alt="图"></p><table><tr><td>甲</td><td>乙</td></tr></table>',
        options=["<!--html--><b>红</b>", "<!--html-->H<sub>2</sub>O", "<!--html-->蓝"],
        answer={"choices": [0, 1]},
        explanation="<!--html--><ul><li>解析</li></ul>",
    )
    item = challenges.create_challenge(
        challenges.ChallengeSettings(title="图题挑战", bank_ids=[question.bank_id]), created_by=None, now=NOW
    )
    member = make_user()
    for seed in range(20):
        run = challenges.start_run(item, member, NOW, rng=random.Random(seed))
        if run.question_id == question.id:
            break
        challenges.answer(item, member, run.id, 1, None, NOW + timedelta(seconds=40))  # time out; try again
    shown = challenges.current_question(run, item, NOW).as_json()
    assert '<img src="/question-images/' + "ab" * 16 + '.png" alt="图">' in shown["stem_html"]
    assert "<table><tbody><tr><td>甲</td><td>乙</td></tr></tbody></table>" in shown[
        "stem_html"
    ] and "<!--html-->" not in str(shown)
    assert {option["html"] for option in shown["options"]} == {"<b>红</b>", "H<sub>2</sub>O", "蓝"}
    assert {option["text"] for option in shown["options"]} == {"红", "H2O", "蓝"}

    verdict = challenges.answer(item, member, run.id, 1, _wrong(run), NOW + timedelta(seconds=3)).as_json()
    assert verdict["explanation_html"] == "<ul><li>解析</li></ul>" and verdict["explanation"] == "• 解析"
    assert {option["html"] for option in verdict["answer"]["options"]} == {"<b>红</b>", "H<sub>2</sub>O"}

    plain = make_question(
        QuestionType.SINGLE, bank=make_bank("纯文本"), stem="<b>不是粗体</b>", options=["<i>甲", "乙"]
    )
    plain_item = challenges.create_challenge(
        challenges.ChallengeSettings(title="纯文本", bank_ids=[plain.bank_id]), created_by=None, now=NOW
    )
    run = challenges.start_run(plain_item, make_user(), NOW, rng=random.Random(1))
    asked = challenges.current_question(run, plain_item, NOW).as_json()
    assert asked["stem_html"] == "&lt;b&gt;不是粗体&lt;/b&gt;"  # a plain text is escaped, never markup
    assert {option["html"] for option in asked["options"]} == {"&lt;i&gt;甲", "乙"}


def test_an_html_fill_in_keeps_its_blanks_in_place_inside_the_markup(in_request, make_question, make_user):
    question = make_question(
        QuestionType.FILL,
        stem="<!--html--><p><b>填空</b>：{{1}} 与 <i>{{2}}</i></p>",
        answer={"blanks": [["甲"], ["乙"]]},
    )
    plain = make_question(QuestionType.FILL, stem="a<b & {{1}}", answer={"blanks": [["甲"]]}, bank=None)
    item = challenges.create_challenge(
        challenges.ChallengeSettings(title="填空", bank_ids=[question.bank_id]), created_by=None, now=NOW
    )
    member = make_user()
    seen = {}
    for seed in range(30):
        run = challenges.start_run(item, member, NOW, rng=random.Random(seed))
        seen[run.question_id] = challenges.current_question(run, item, NOW).as_json()["stem_parts"]
        challenges.answer(item, member, run.id, 1, None, NOW + timedelta(seconds=40))
        if len(seen) == 2:
            break
    assert seen[question.id] == ["<p><b>填空</b>：", 0, " 与 <i>", 1, "</i></p>"]
    assert seen[plain.id] == ["a&lt;b &amp; ", 0, ""]
