"""Moved to ``tests.factories.exams``; kept so existing imports keep working."""

from tests.factories.exams import EXPLANATION_TEXT, SINGLE_ANSWER_TEXT, create_bank, create_question, create_quiz

__all__ = ["EXPLANATION_TEXT", "SINGLE_ANSWER_TEXT", "create_bank", "create_question", "create_quiz"]
