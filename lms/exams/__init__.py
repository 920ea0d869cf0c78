"""Question banks and importers, quizzes, attempts, grading, and contests.

Quizzes and attempts (DESIGN.md §4)
-----------------------------------
Three subpackages, dependencies one way: ``contests -> quizzes -> questions`` (the
modules of each are listed in docs/ARCHITECTURE.md). ``questions.types`` is the
question-type registry (parsing, grading, showing and exporting each type);
``quizzes`` holds setup, timing, attempts, results, review, the notebook (错题本),
corrections (纠错), statistics, the pages (blueprints ``exams``, ``/quizzes``, and
``exams_admin``, ``/admin/quizzes``) and the 30-second finalizing job.

Services other domains build on (all take ``now``, flush and never commit; the
caller commits once):

- ``quizzes.attempts.start_attempt(quiz, user, now, *, rng=None, question_ids=None) -> QuizAttempt``:
  starts an attempt or returns the member's open one (one open attempt per
  member and quiz is a database constraint: ``quiz_attempts.open_slot``). Freezes
  the questions (``QuestionSnapshot``), their order and option order; sets
  ``deadline = min(started_at + time limit, close_at)`` (overrides applied).
  Raises ``Forbidden`` (not in the audience), ``InvalidState`` (not open yet,
  closed, no attempts left, waiting, too few questions).
- ``quizzes.attempts.save_answer(attempt_id, user, position, raw, seq, now) -> SaveResult``:
  one answer, choices numbered as shown; ``seq`` only grows per question, so
  replays and late arrivals change nothing. Refused after ``deadline +
  LMS_QUIZ_GRACE_SECONDS``. The save view group-commits instead: ``quizzes.saves``
  (``prepare_save``, then ``SaveCommitter.of(app).submit(prepared, now)``, answered once committed).
- ``quizzes.attempts.submit_attempt(attempt_id, user, now) -> QuizAttempt``: grade now; idempotent.
- ``quizzes.attempts.finalize_attempt(attempt, now, reason=FinishReason.TIME_UP) -> QuizAttempt``:
  close an open attempt with what was saved, whatever its deadline (a contest
  closing, an admin); idempotent.
- ``quizzes.attempts.finalize_overdue(now, limit=500) -> int``: close every attempt past
  ``finalize_after`` by the quiz's overdue rule (the scheduler job; safe to run
  twice or in two processes).
- ``quizzes.results.quiz_results(quiz_ids, user_clause) -> {(user_id, quiz_id): (score_percent, passed)}``:
  the kept score (highest or last, per quiz) of finished, non-practice attempts,
  in one aggregate query; ``user_clause`` is a WHERE clause on ``User``
  (``audience_clause(target)``, ``member_scope_clause(viewer)``, ``User.id == n``).
- ``quizzes.timing.refresh_open_deadlines(quiz, now=now)``: recompute open attempts'
  deadlines after changing a quiz's timing directly (``update_quiz`` and
  ``set_override`` call it themselves).

An attempt records ``started_at``, ``finished_at`` (the deadline when time ran
out), ``time_used_seconds`` (capped at the deadline), ``score``, ``max_score`` and
``score_percent``: what a contest ranking needs (score desc, time used asc,
submit time asc).

Contests (DESIGN.md §5)
-----------------------
Subpackage ``contests``: ``phases``, ``setup``, ``banner``, ``board`` (ranking query,
the cached live board, frozen standings), ``taking``, ``closing`` (schedule job,
standings, export, certificates), ``challenge`` (challenge mode, 挑战答题), ``views``
(blueprint ``contests``, ``/contests``), ``admin`` (blueprint ``contest_admin``,
``/admin/contests``), ``forms``, ``demo``.

A contest is a quiz of kind CONTEST plus a ``Contest`` row: members take it with
the quiz services above (``start_attempt`` with the contest's ``draws``, the
quizzes' attempt page and autosave). Its phase comes from the clock
(``contests.phases.phase``); the scheduler job ``contests.closing.run_contest_schedule`` announces
openings and, after ``close + QUIZ_GRACE_SECONDS``, finalizes open attempts and
stores the standings (``ContestStanding``, ``ContestBranchStanding``), which any
page needing them also does if the job has not. ``contests.board.ranked_rows(contest)``
ranks every participant's best finished attempt in one query (``ranking``'s rule);
``contests.board.board_payload`` serves it from ``lms.cache`` (``CONTEST_BOARD_SECONDS``).
The branch board ranks Party branches by score per member (``contests.ranking.rank_branches``;
the rule is in docs/DEVELOPING.md and under the board).
"""
