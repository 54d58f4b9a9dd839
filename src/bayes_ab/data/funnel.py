"""Loaders of the lead-funnel files (DATA_CONTRACT.md section 2).

``leads.csv``  email, name, company, city, industry, status
``events.csv`` email, received_at, source, event

Both may be gzipped, UTF-8 or Latin-1, with LF, CRLF or CR-only line endings (the
published ``leads.csv`` is Latin-1 with CR-only endings). Column names are matched
case-insensitively after trimming; extra columns are kept and ignored.

What stops the analysis (a `DataError` naming file, column and first lines): a missing
or empty file, a missing column, a status whose leading digit is not 1..5, a lead listed
twice, an event row without email/source/event or with an unparseable timestamp.

What does not (a counted `Finding`, never silent): exact duplicate event rows (dropped),
events of emails that are not in the leads (excluded), leads without an industry (kept
under ``"Unknown"``).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_ab.data.schema import Finding
from bayes_ab.errors import DataError

LEAD_COLUMNS = ("email", "name", "company", "city", "industry", "status")
REQUIRED_LEAD_COLUMNS = ("email", "industry", "status")
EVENT_COLUMNS = ("email", "received_at", "source", "event")

#: Stage labels of the report, keyed by the status' leading digit.
STATUS_LABELS = {
    1: "1 - New",
    2: "2 - Contact attempted",
    3: "3 - Contact Made",
    4: "4 - Nurturing",
    5: "5 - Converted to opportunity",
}
STAGES = tuple(STATUS_LABELS)

#: The seven interaction types in the order of the report's Table 1; types the data has
#: beyond these are appended in alphabetical order.
KNOWN_EVENT_TYPES = (
    "spatial_cli_logged_in",
    "website_viewed_console",
    "spatial_cli_generic_activity",
    "forums_pageview",
    "website_downloaded_sdk",
    "website_docs",
    "website_generated_referral",
)

UNKNOWN_INDUSTRY = "Unknown"


@dataclass(frozen=True)
class FunnelData:
    """The two tables every funnel analysis reads; built once by `load_funnel`.

    ``leads``  one row per lead: email, name, company, city, industry (str),
               status (int 1..5), status_label (str), line (int, line in the file).
    ``events`` one row per *distinct* event of a known lead, sorted by (email, time):
               email, received_at (datetime64 UTC), source, event, event_type.
    """

    leads: pd.DataFrame
    events: pd.DataFrame
    n_events_raw: int
    n_events_distinct: int
    n_duplicate_events: int
    n_events_unknown_lead: int
    event_types: tuple[str, ...]
    findings: tuple[Finding, ...] = field(default=())
    leads_file: str = ""
    events_file: str = ""

    @property
    def n_leads(self) -> int:
        return len(self.leads)

    @property
    def n_leads_with_events(self) -> int:
        return int(self.events["email"].nunique())

    @property
    def industries(self) -> tuple[str, ...]:
        return tuple(sorted(self.leads["industry"].unique()))


# --------------------------------------------------------------------------- reading text


def _read_text(path: Path) -> str:
    """Decoded text with every line ending turned into LF."""
    if not path.exists():
        raise DataError("file not found", file=str(path))
    if path.is_dir():
        raise DataError("expected a file, found a folder", file=str(path))
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"corrupt gzip file ({exc})", file=str(path)) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Latin-1 decodes any byte sequence; the published leads.csv needs it.
        text = raw.decode("latin-1")
    # CRLF first so that it becomes one LF, then the CR-only endings of the published file.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_table(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    text = _read_text(path)
    if not text.strip():
        raise DataError("file is empty", file=str(path))
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"not a readable CSV file ({exc})", file=str(path)) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}",
            file=str(path),
            column=missing[0],
        )
    if frame.empty:
        raise DataError("file has a header but no rows", file=str(path))
    # Line in the file as an editor shows it: header is line 1.
    frame["line"] = np.arange(len(frame), dtype=np.int64) + 2
    return frame


def _lines(frame: pd.DataFrame, mask) -> list[int]:
    return frame.loc[mask, "line"].astype(int).tolist()


# --------------------------------------------------------------------------- leads


def load_leads(path: str | Path) -> tuple[pd.DataFrame, list[Finding]]:
    """Read ``leads.csv``; returns (leads, findings). See the module docstring."""
    path = Path(path)
    frame = _read_table(path, REQUIRED_LEAD_COLUMNS)
    findings: list[Finding] = []
    for col in LEAD_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
        frame[col] = frame[col].str.strip()

    email = frame["email"]
    blank = email == ""
    if blank.any():
        raise DataError("lead without an email", file=str(path), column="email",
                        lines=_lines(frame, blank))
    dup = email.duplicated(keep=False)
    if dup.any():
        raise DataError("the same lead (email) is listed more than once", file=str(path),
                        column="email", lines=_lines(frame, dup))

    # The labels' wording and case vary ("Contact attempted" vs "Contact Made"); the
    # leading digit is what defines the stage.
    digit = frame["status"].str.extract(r"^\s*([1-5])(?![0-9])", expand=False)
    bad = digit.isna()
    if bad.any():
        shown = ", ".join(repr(s) for s in frame.loc[bad, "status"].unique()[:5])
        raise DataError(f"unknown status {shown} (expected a leading digit 1..5)",
                        file=str(path), column="status", lines=_lines(frame, bad))
    frame["status"] = digit.astype(np.int64)
    frame["status_label"] = frame["status"].map(STATUS_LABELS)

    no_industry = frame["industry"] == ""
    if no_industry.any():
        lines = _lines(frame, no_industry)
        findings.append(Finding(
            check="lead_missing_industry",
            severity="warning",
            count=int(no_industry.sum()),
            message=(f"{path.name}: {int(no_industry.sum())} lead(s) without an industry, "
                     f"kept as '{UNKNOWN_INDUSTRY}' (first at line(s) "
                     f"{', '.join(map(str, lines[:10]))})"),
        ))
        frame.loc[no_industry, "industry"] = UNKNOWN_INDUSTRY
    cols = [*LEAD_COLUMNS, "status_label", "line"]
    return frame[cols].reset_index(drop=True), findings


# --------------------------------------------------------------------------- events


def _ordered_types(types) -> tuple[str, ...]:
    present = set(types)
    known = [t for t in KNOWN_EVENT_TYPES if t in present]
    return tuple(known + sorted(present - set(KNOWN_EVENT_TYPES)))


def load_events(
    path: str | Path, *, lead_emails=None
) -> tuple[pd.DataFrame, dict, list[Finding]]:
    """Read ``events.csv``; returns (distinct events of known leads, counts, findings).

    ``counts`` has n_raw, n_distinct (after dropping exact duplicate rows, before the
    unknown-lead exclusion), n_duplicates, n_unknown_lead (distinct rows excluded because
    their email is not in ``lead_emails``; 0 when ``lead_emails`` is None).
    """
    path = Path(path)
    frame = _read_table(path, EVENT_COLUMNS)
    findings: list[Finding] = []
    n_raw = len(frame)

    for col in ("email", "source", "event"):
        blank = frame[col].str.strip() == ""
        if blank.any():
            raise DataError(f"empty {col}", file=str(path), column=col,
                            lines=_lines(frame, blank))

    # "Exact duplicate" = the same four fields, byte for byte, as the report counted them.
    dup = frame.duplicated(subset=list(EVENT_COLUMNS), keep="first")
    n_dup = int(dup.sum())
    frame = frame.loc[~dup]
    n_distinct = len(frame)
    if n_dup:
        findings.append(Finding(
            check="duplicate_events",
            severity="info",
            count=n_dup,
            message=(f"{path.name}: {n_dup} exact duplicate event row(s) dropped "
                     f"({n_raw} raw, {n_distinct} distinct)"),
        ))

    ts = pd.to_datetime(frame["received_at"].str.strip(), errors="coerce", utc=True,
                        format="mixed")
    bad = ts.isna()
    if bad.any():
        raise DataError("unparseable timestamp", file=str(path), column="received_at",
                        lines=_lines(frame, bad))
    frame = frame.assign(
        email=frame["email"].str.strip(),
        source=frame["source"].str.strip(),
        event=frame["event"].str.strip(),
        received_at=ts,
    )
    frame["event_type"] = frame["source"] + "_" + frame["event"]

    n_unknown = 0
    if lead_emails is not None:
        known = frame["email"].isin(set(lead_emails))
        n_unknown = int((~known).sum())
        if n_unknown:
            unknown = frame.loc[~known]
            findings.append(Finding(
                check="events_unknown_lead",
                severity="warning",
                count=n_unknown,
                message=(f"{path.name}: {n_unknown} distinct event row(s) of "
                         f"{unknown['email'].nunique()} email(s) not in the leads file "
                         f"excluded (first at line(s) "
                         f"{', '.join(map(str, unknown['line'].head(10)))})"),
            ))
        frame = frame.loc[known]

    frame = frame.sort_values(["email", "received_at", "line"], kind="mergesort")
    events = frame[["email", "received_at", "source", "event", "event_type", "line"]]
    counts = {"n_raw": n_raw, "n_distinct": n_distinct, "n_duplicates": n_dup,
              "n_unknown_lead": n_unknown}
    return events.reset_index(drop=True), counts, findings


def load_funnel(leads_path: str | Path, events_path: str | Path) -> FunnelData:
    """Load both files into one `FunnelData` (events restricted to known leads)."""
    leads, lead_findings = load_leads(leads_path)
    events, counts, event_findings = load_events(events_path, lead_emails=leads["email"])
    return FunnelData(
        leads=leads,
        events=events,
        n_events_raw=counts["n_raw"],
        n_events_distinct=counts["n_distinct"],
        n_duplicate_events=counts["n_duplicates"],
        n_events_unknown_lead=counts["n_unknown_lead"],
        event_types=_ordered_types(events["event_type"].unique()),
        findings=tuple(lead_findings + event_findings),
        leads_file=str(leads_path),
        events_file=str(events_path),
    )
