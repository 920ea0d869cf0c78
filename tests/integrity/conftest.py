"""The courses factories (courses with lessons, sessions and beats), shared with the anomaly tests."""

from tests.courses.conftest import admin, beat, lesson_of, make_asset, make_course, start  # noqa: F401
