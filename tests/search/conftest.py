"""The courses factories, reused to make searchable content."""

import pytest

from tests.courses.conftest import admin, lesson_of, make_asset, make_course  # noqa: F401


@pytest.fixture(autouse=True)
def request_context(app):
    """Hits carry URLs: build them as a request would."""
    with app.test_request_context():
        yield
