"""Every user-facing message has a Simplified Chinese translation."""

from lms.i18n_tools import untranslated


def test_every_message_is_translated_to_simplified_chinese():
    missing = untranslated()
    assert not missing, "untranslated (run `make extract-messages` and fill zh_Hans):\n" + "\n".join(missing)


def test_one_message_id_has_one_translation_across_catalogues():
    # The catalogues are merged into one lookup, so a msgid translated two ways
    # shows one domain's wording on another's pages (e.g. 发布时间 on a quiz badge).
    from lms.i18n_tools import conflicting_translations

    conflicts = conflicting_translations()
    assert not conflicts, "one msgid, several translations (use pgettext or a distinct msgid):\n" + "\n".join(conflicts)
