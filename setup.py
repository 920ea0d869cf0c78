"""Build hook: compile the message catalogues into the wheel.

Metadata and dependencies live in setup.cfg; this only makes ``build_py`` write
each ``messages.po`` as ``messages.mo`` beside it in the build, so an installed
wheel speaks Chinese without a checkout (the .mo files are not in git; in a
checkout `make translations` compiles them in place).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCatalogues(build_py):
    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path("lms").glob("**/translations/*/LC_MESSAGES/messages.po"):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalogue = read_po(source)
            with target.open("wb") as out:
                write_mo(out, catalogue)


setup(cmdclass={"build_py": BuildPyWithCatalogues})
