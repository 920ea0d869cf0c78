"""Search: Chinese substrings of two or more characters, ranking, permissions, and an index that follows the content."""

from __future__ import annotations

import sqlalchemy as sa

from lms import clock
from lms.auth.models import MemberStatus
from lms.courses import services as course_services
from lms.courses.models import LessonKind
from lms.extensions import db
from lms.notices import services as notice_services
from lms.search import query
from lms.search.index import bigrams, reindex_all
from lms.search.models import SearchDocument
from lms.search.views import search_for


def titles(hits):
    return [hit["title"] for hit in hits]


def rename_lesson(lesson, title):
    lesson.title = title
    db.session.commit()


def test_bigrams_cover_every_adjacent_pair_of_each_word():
    assert bigrams("初心使命，党章 AB") == "初心 心使 使命 党章 ab"
    assert bigrams("党") == "党"


def test_a_two_character_lesson_title_word_is_found(make_user, make_course, lesson_of):
    member = make_user()
    course = make_course(LessonKind.VIDEO, title="主题教育")
    rename_lesson(lesson_of(course), "不忘初心 牢记使命")
    hits = search_for(member, "初心")
    assert titles(hits) == ["不忘初心 牢记使命"]
    assert hits[0]["kind"] == "lesson"


def test_a_two_character_category_finds_its_course(make_user, make_course):
    member = make_user()
    make_course(title="新时代的学习", category="党章")
    make_course(title="别的课程", category="党史")
    found = titles(search_for(member, "党章"))
    assert found[0] == "新时代的学习"  # then its lesson, which carries the course's category
    assert "别的课程" not in found and len(found) == 2


def test_two_character_queries_use_the_bigram_index_not_a_scan(app, make_course):
    make_course(title="不忘初心")
    plan = db.session.execute(
        sa.text("EXPLAIN QUERY PLAN SELECT rowid FROM search_grams WHERE search_grams MATCH :q"), {"q": '"初心"'}
    ).all()
    assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
    assert [doc.title for doc in query.candidates("初心")][0] == "不忘初心"


def test_longer_words_match_inside_the_text_through_the_trigram_index(make_user, make_course):
    member = make_user()
    make_course(LessonKind.ARTICLE, title="入党教育")  # the article's body is "学习党章"
    found = search_for(member, "习党章")
    assert "文章" in titles(found)
    # Both words: the article (its course's title is in its body).
    assert search_for(member, "习党章 入党")[0]["title"] == "文章"


def test_every_word_must_match_and_titles_rank_first(make_user, make_course, lesson_of):
    member = make_user()
    first = make_course(LessonKind.VIDEO, title="学习党章基本知识")
    rename_lesson(lesson_of(first), "党章第一章")
    second = make_course(LessonKind.VIDEO, title="党史故事")
    rename_lesson(lesson_of(second), "红色故事")
    found = titles(search_for(member, "党章"))
    assert found[:2] == ["学习党章基本知识", "党章第一章"]  # both titles match; a course before a lesson
    assert "党史故事" not in found
    assert titles(search_for(member, "党章 第一")) == ["党章第一章"]


def test_the_index_follows_renames_and_deletions(make_user, make_course, lesson_of):
    member = make_user()
    course = make_course(LessonKind.VIDEO, LessonKind.VIDEO, title="课程甲")
    lesson = lesson_of(course)
    rename_lesson(lesson, "初心之课")
    assert titles(search_for(member, "初心")) == ["初心之课"]
    rename_lesson(lesson, "使命之课")
    assert search_for(member, "初心") == []
    assert titles(search_for(member, "使命")) == ["使命之课"]
    course_services.delete_lesson(lesson)
    db.session.commit()
    assert search_for(member, "使命") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument).where(
        SearchDocument.kind == "lesson", SearchDocument.object_id == lesson.id)) == 0


def test_a_rolled_back_write_leaves_the_index_as_it_was(make_user, make_course, lesson_of):
    member = make_user()
    lesson = lesson_of(make_course(LessonKind.VIDEO, title="课程乙"))
    rename_lesson(lesson, "初心")
    lesson.title = "改了又撤回"
    db.session.flush()
    db.session.rollback()
    assert titles(search_for(member, "初心")) == ["初心"]
    assert search_for(member, "撤回") == []


def test_readers_find_only_what_they_may_open(make_user, make_course, admin):
    member = make_user()
    activist = make_user(status=MemberStatus.ACTIVIST)
    make_course(title="初心草稿", published=False)
    make_course(title="初心党员课", audience={"audience_statuses": ["full"]})
    assert titles(search_for(member, "初心"))[0] == "初心党员课"
    assert "初心草稿" not in titles(search_for(member, "初心"))
    assert search_for(activist, "初心") == []
    assert {"初心草稿", "初心党员课"} <= set(titles(search_for(admin, "初心")))


def test_announcements_are_found_by_their_audience_and_questions_only_by_admins(make_user, admin, app):
    member = make_user()
    now = clock.utcnow()
    notice_services.save_announcement(
        None, author=admin, title="关于学习党章的通知", body_html="请各支部组织学习", statuses=[], roles=[],
        branch_ids=[], pinned=False, expires_on=None, publish=True, now=now,
    )
    notice_services.save_announcement(
        None, author=admin, title="党章草稿通知", body_html="", statuses=[], roles=[], branch_ids=[],
        pinned=False, expires_on=None, publish=False, now=now,
    )
    questions = db.metadata.tables["questions"]
    banks = db.metadata.tables["question_banks"]
    db.session.commit()
    assert titles(search_for(member, "党章")) == ["关于学习党章的通知"]
    assert search_for(member, "各支部")[0]["kind"] == "announcement"
    # Questions: indexed from their rows (written here directly, as an importer would) and shown to admins only.
    bank = db.session.execute(banks.insert().values(name="题库", created_at=now, updated_at=now))
    bank_id = bank.inserted_primary_key[0]
    db.session.execute(questions.insert().values(
        bank_id=bank_id, type="single", title="", stem="党章规定党员的权利有几项？", options=["八项", "六项"],
        answer={"choice": 0}, points=1.0, difficulty=3, tags=[], version=1, created_at=now, updated_at=now,
    ))
    assert reindex_all(db.session) >= 3
    db.session.commit()
    assert "question" in {hit["kind"] for hit in search_for(admin, "党员的权利")}
    assert search_for(member, "党员的权利") == []
    # A question written in HTML is indexed by its words, not its tags.
    db.session.execute(questions.insert().values(
        bank_id=bank_id, type="single", title="", stem="<!--html--><p>下列<b>哪一项</b>正确？</p>",
        options=["<!--html--><p>民主<sub>集中</sub>制</p>", "<!--html--><p>其他</p>"], answer={"choice": 0},
        points=1.0, difficulty=3, tags=[], version=1, created_at=now, updated_at=now,
    ))
    reindex_all(db.session)
    db.session.commit()
    bodies = db.session.scalars(sa.select(SearchDocument.body).where(SearchDocument.kind == "question")).all()
    assert any("民主集中制" in body for body in bodies) and not any("<" in body for body in bodies)


def test_the_search_page_shows_hits_and_survives_any_input(client, login, make_user, make_course, lesson_of):
    member = make_user()
    rename_lesson(lesson_of(make_course(LessonKind.VIDEO, title="主题教育")), "不忘初心")
    login(member)
    page = client.get("/search/?q=初心")
    assert page.status_code == 200
    assert "不忘初心" in page.get_data(as_text=True)
    for text in ['"', "初心 AND OR NOT *", "(党章", "NEAR(初心)", "%_\\", "党", "x" * 500, ""]:
        assert client.get("/search/", query_string={"q": text}).status_code == 200, text
    assert "党章" not in titles(search_for(member, "%"))


def test_one_character_queries_are_bounded(make_user, make_course):
    member = make_user()
    for n in range(3):
        make_course(title=f"党课{n}")
    assert len(query.candidates("党", limit=2)) == 2
    assert titles(search_for(member, "党"))[:3] == ["党课2", "党课1", "党课0"]  # titles first, newest first
