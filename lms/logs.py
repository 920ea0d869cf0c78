"""The platform's own log lines (job runs, board computations, contest phases) on stderr.

Served by gunicorn or run as ``flask lms worker``, stderr is what the process
manager (systemd's journal) collects. The ``lms`` logger gets its own handler so
the lines appear whatever the server did with the root logger.
"""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


def configure_logging(level: str) -> None:
    """Send the ``lms`` loggers' records at ``level`` and above to stderr (once per process)."""
    logger = logging.getLogger("lms")
    if not any(getattr(handler, "lms_own", False) for handler in logger.handlers):
        handler = logging.StreamHandler()
        handler.lms_own = True
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(str(level or "INFO").upper())
