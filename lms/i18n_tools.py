"""Message catalogues: ``python -m lms.i18n_tools update [DOMAIN]|compile|check``.

Each part of the code keeps its own catalogue so that domains never edit the
same .po file: the base (``lms/translations``: lms/*.py, auth, the shared
templates) and one per domain (``lms/<domain>/translations``: its Python files and
``templates/<domain>``). Message ids are English; zh_Hans must translate every
one (``check`` fails otherwise), en may leave them empty.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent
LOCALES = ("zh_Hans", "en")
BASE_TEMPLATES = ("base.html", "_macros", "errors", "home", "auth", "admin")
DOMAINS = tuple(
    sorted(p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name != "auth")
)


def catalogues() -> list[tuple[Path, list[Path]]]:
    """(translations dir, source paths) for the base and each domain that has strings."""
    base_sources = list(ROOT.glob("*.py")) + [ROOT / "auth"]
    base_sources += [ROOT / "templates" / name for name in BASE_TEMPLATES if (ROOT / "templates" / name).exists()]
    result = [(ROOT / "translations", base_sources)]
    for domain in DOMAINS:
        sources = [ROOT / domain]
        if (ROOT / "templates" / domain).exists():
            sources.append(ROOT / "templates" / domain)
        result.append((ROOT / domain / "translations", sources))
    return result


def _run(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(sources: list[Path], pot: Path) -> None:
    _run(
        "extract",
        "-F",
        str(ROOT.parent / "babel.cfg"),
        "-k",
        "_l",
        "-k",
        "lazy_pgettext:1c,2",
        "-k",
        "lazy_ngettext:1,2",
        "--no-location",
        "--sort-output",
        "-o",
        str(pot),
        *(str(s) for s in sources),
    )


def update(only: str | None = None) -> None:
    """Refresh the .pot and .po files of every catalogue (or of domain ``only``; "base")."""
    for directory, sources in catalogues():
        name = "base" if directory.parent == ROOT else directory.parent.name
        if only and name != only:
            continue
        directory.mkdir(parents=True, exist_ok=True)
        pot = directory / "messages.pot"
        extract(sources, pot)
        for locale in LOCALES:
            po = directory / locale / "LC_MESSAGES" / "messages.po"
            if po.exists():
                _run(
                    "update",
                    "-i",
                    str(pot),
                    "-d",
                    str(directory),
                    "-l",
                    locale,
                    "--no-fuzzy-matching",
                    "--ignore-obsolete",
                )
            else:
                _run("init", "-i", str(pot), "-d", str(directory), "-l", locale)


def compile_all() -> None:
    """Compile every .po to the .mo files Flask-Babel reads."""
    for directory, _ in catalogues():
        for locale in LOCALES:
            po = directory / locale / "LC_MESSAGES" / "messages.po"
            if po.exists():
                _run("compile", "-d", str(directory), "-l", locale)


def untranslated() -> list[str]:
    """Messages in the sources that zh_Hans does not translate (or only fuzzily)."""
    missing = []
    with tempfile.TemporaryDirectory() as tmp:
        for directory, sources in catalogues():
            pot = Path(tmp) / "messages.pot"
            extract(sources, pot)
            with pot.open("rb") as handle:
                wanted = [(m.id, m.context) for m in read_po(handle) if m.id]
            po = directory / "zh_Hans" / "LC_MESSAGES" / "messages.po"
            done = {}
            if po.exists():
                with po.open("rb") as handle:
                    done = {(m.id, m.context): m for m in read_po(handle) if m.id}
            for msgid, context in wanted:
                message = done.get((msgid, context))
                strings = message.string if message else None
                ok = message and not message.fuzzy and (all(strings) if isinstance(strings, tuple) else strings)
                if not ok:
                    missing.append(
                        f"{directory.relative_to(ROOT.parent)}: {msgid if isinstance(msgid, str) else msgid[0]}"
                    )
    return missing


def conflicting_translations(locale: str = "zh_Hans") -> list[str]:
    """Messages that two catalogues translate differently.

    Flask-Babel merges every catalogue into one lookup (the last one wins), so
    one message id (with its context) must mean one text everywhere; a word
    with two meanings gets a context (``pgettext``) or its own message id.
    """
    seen: dict[tuple, dict[str, object]] = {}
    for directory, _ in catalogues():
        po = directory / locale / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as handle:
            for message in read_po(handle):
                if not message.id or message.fuzzy or not message.string:
                    continue
                strings = message.string if isinstance(message.string, tuple) else (message.string,)
                if not all(strings):
                    continue
                key = (message.context, message.id if isinstance(message.id, str) else message.id[0])
                seen.setdefault(key, {})[str(directory.relative_to(ROOT.parent))] = strings
    problems = []
    for (context, msgid), by_catalogue in sorted(seen.items(), key=lambda item: (item[0][1], item[0][0] or "")):
        if len(set(by_catalogue.values())) > 1:
            label = f"{context}|{msgid}" if context else msgid
            shown = "; ".join(f"{where}: {' / '.join(text)}" for where, text in by_catalogue.items())
            problems.append(f"{label!r} -> {shown}")
    return problems


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    if command == "update":
        update(sys.argv[2] if len(sys.argv) > 2 else None)
    elif command == "compile":
        compile_all()
    elif command == "check":
        problems = untranslated() + conflicting_translations()
        print("\n".join(problems) or "every message is translated")
        sys.exit(1 if problems else 0)
    else:
        sys.exit(f"unknown command {command}; use update, compile or check")
