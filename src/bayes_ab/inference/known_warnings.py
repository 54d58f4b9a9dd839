"""Third-party warnings that say nothing about the user's analysis, silenced by name.

Each filter names the exact message (and the module that raises it), so any other
warning still shows. ``bayes-ab`` installs them at start; the notebook API
(`bayes_ab.api`) installs them around its own calls only.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

#: (message regex, category, module regex) of each known warning.
KNOWN_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    # ArviZ 0.2x, once a day at import: the announcement of its 1.0 refactor.
    (r"\s*ArviZ is undergoing a major refactor", FutureWarning, r"arviz"),
)


def silence_known_warnings() -> None:
    """Ignore the `KNOWN_WARNINGS` (process-wide; for the command line)."""
    for message, category, module in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


@contextmanager
def known_warnings_silenced():
    """Ignore the `KNOWN_WARNINGS` inside the block only."""
    with warnings.catch_warnings():
        silence_known_warnings()
        yield
