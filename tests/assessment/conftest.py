"""Fixtures for assessment tests: ``study`` (rows of study time, completions, results) and ``make_target``.

The factories live in ``tests.factories.assessment``.
"""

from __future__ import annotations

import pytest

from tests.factories.assessment import SECONDS_PER_HOUR, StudyData, create_target

__all__ = ["SECONDS_PER_HOUR", "StudyData"]


@pytest.fixture
def study(app) -> StudyData:
    return StudyData()


@pytest.fixture
def make_target(app):
    """A target: ``make_target(required_hours=32, statuses=["full"], courses=[course], quizzes=[(quiz, 80)])``."""
    return create_target
