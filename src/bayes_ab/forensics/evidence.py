"""The evidence of a folder: each registered check that applies to it, in registry order."""

from __future__ import annotations

from pathlib import Path

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import folder_inputs
from bayes_ab.forensics.reader import Kind, detect_kind
from bayes_ab.forensics.registry import CHECKS


def collect_evidence(folder: str | Path, kind: Kind | None = None) -> list[CheckResult]:
    """Every check that applies to the folder, unweighed (each with its own hint)."""
    folder = Path(folder)
    kind = kind or detect_kind(folder)
    data = folder_inputs(folder, kind)
    return [check.run(data) for check in CHECKS if kind in check.kinds and check.applies(data)]
