"""Moved to ``tests.factories.contests``; kept so existing imports keep working."""

from tests.factories.contests import answer, clear_cache, create_contest, key_response, take, wrong_response

__all__ = ["answer", "clear_cache", "create_contest", "key_response", "take", "wrong_response"]
