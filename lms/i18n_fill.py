"""Fill msgstrs of a catalogue from a Python dict file: ``python -m lms.i18n_fill PO DICT.py``.

A convenience for translators working in bulk: the dict file defines ``T =
{msgid: translation}``; existing translations are kept unless the dict has one.
"""

from __future__ import annotations

import runpy
import sys

from babel.messages.pofile import read_po, write_po


def fill(po_path: str, translations: dict[str, str]) -> int:
    """Write ``translations`` into the .po file; return how many messages changed."""
    with open(po_path, "rb") as handle:
        catalog = read_po(handle)
    changed = 0
    for message in catalog:
        wanted = translations.get(message.id) if isinstance(message.id, str) else None
        if wanted and (message.string != wanted or message.fuzzy):
            message.string = wanted
            message.flags.discard("fuzzy")
            changed += 1
    with open(po_path, "wb") as handle:
        write_po(handle, catalog, width=0, omit_header=False)
    return changed


if __name__ == "__main__":
    print(fill(sys.argv[1], runpy.run_path(sys.argv[2])["T"]), "messages filled")
