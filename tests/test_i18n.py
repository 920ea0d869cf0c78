"""Every user-facing message has a Simplified Chinese translation."""

from lms.i18n_tools import untranslated


def test_every_message_is_translated_to_simplified_chinese():
    missing = untranslated()
    assert not missing, "untranslated (run `make extract-messages` and fill zh_Hans):\n" + "\n".join(missing)
