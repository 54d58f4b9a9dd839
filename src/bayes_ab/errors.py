"""Typed errors. A user's mistake becomes a `BayesAbError`; the CLI prints its message
and exits with code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Sequence


class BayesAbError(Exception):
    """Base class of every error caused by the user's input or options."""

    exit_code = 2


class DataError(BayesAbError):
    """Bad input data: names the file, the column and the first offending lines.

    `lines` are 1-based line numbers in the file as a text editor shows them, the
    header being line 1 (so the first data row is line 2).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        lines: Sequence[int] = (),
        n_rows: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.lines = tuple(int(x) for x in lines)
        self.n_rows = n_rows if n_rows is not None else len(self.lines)
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.column:
            where.append(f"column '{self.column}'")
        text = ", ".join(where)
        text = f"{text}: {self.reason}" if text else self.reason
        if self.lines:
            shown = ", ".join(str(x) for x in self.lines[:10])
            more = f" (and {self.n_rows - 10} more)" if self.n_rows > 10 else ""
            text += f" [{self.n_rows} row(s); first at line(s) {shown}{more}]"
        return text


class OptionError(BayesAbError):
    """An invalid command-line option or argument combination."""


class OutputExistsError(BayesAbError):
    """The output folder exists and --force was not given."""


class DiagnosticsFailed(BayesAbError):
    """Raised by `--strict` runs whose samplers failed the diagnostic gates."""

    exit_code = 3


class ResourceError(BayesAbError):
    """The machine ran out of a resource (e.g. DuckDB's memory budget): not a data error,
    so a distinct exit code (4) and a message saying what to change."""

    exit_code = 4
