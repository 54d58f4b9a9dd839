"""Shared layout of every report (analyze, compare, monitor, funnel): the document blocks
(callout, paragraph, list, table, details, section), figure placement, and the two Jinja2
templates that lay one document out as HTML and as Markdown.

A report is built in two steps so that the HTML and the Markdown cannot disagree:

1. a ``build_*_document`` function (``report.analysis``, ``report.compare``,
   ``report.monitor``, ``funnel.report``) turns results into a *document*: banners and
   sections made of simple blocks, every sentence already written (``bayes_ab.report.text``).
   No statistic is computed there.
2. ``render_document`` lays the same document out with ``report.html.j2`` (self-contained:
   inline CSS, every figure embedded as a base64 PNG data URI, no external resource;
   autoescaped) and ``report.md.j2`` (figures linked as ``figures/<name>.png``; text escaped
   for Markdown).
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).parent / "templates"

#: Which report section shows a figure, by the start of its name (first match wins, so the
#: more specific prefixes come first). Trace and rank plots are sampler health checks.
FIGURE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("decision", "recommendation"),
    ("expected_loss", "recommendation"),
    ("completions_", "completions"),
    ("conversion_by_completions", "completions"),
    ("conversion", "conversion"),
    ("cs_engagement", "cs_engagement"),
    ("any_cs", "cs_engagement"),
    ("help_", "help"),
    ("survival", "help"),
    ("time_to_completion", "help"),
    ("causal", "help"),
    ("iv_", "help"),
    ("time_experience", "time_experience"),
    ("time_and_experience", "time_experience"),
    ("srm", "srm"),
    ("forensics", "forensics"),
)
DIAGNOSTIC_SUFFIXES = ("_trace", "_rank", "_energy")
_FIGURE_KINDS = (("_forest", "forest plots"), ("_ppc", "posterior predictive checks"),
                 ("_posterior", "parameter posteriors"))

#: Figures shown open in their section; the others (forest plots, posterior predictive
#: checks, raw parameter posteriors) go under "More figures" so the page stays a short read.
#: A name ending in one of these suffixes is a headline figure ...
_HEADLINE_SUFFIXES = ("_posterior", "_rates", "_survival_km", "_causal_vs_naive")
#: ... unless listed here: posteriors of internal parameters a decision-maker cannot read
#: (the same section already has a plainer figure, or the forest plot is plainer).
_DETAIL_FIGURES = frozenset({
    "help_completion_posterior", "time_to_completion_posterior", "causal_cs_effect_posterior",
    "completions_conversion_posterior",
})
#: ... and these are headline figures whatever their suffix.
_HEADLINE_FIGURES = frozenset({"completions_conversion_forest"})


# -------------------------------------------------------------------------- blocks


def callout(level: str, title: str, lines: list[str]) -> dict:
    return {"kind": "callout", "level": level, "title": title, "lines": list(lines)}


def para(text: str, style: str = "") -> dict:
    return {"kind": "para", "text": text, "style": style}


def bullets(items: list[str]) -> dict:
    return {"kind": "list", "items": list(items)}


def table(columns: list[str], rows: list[list[str]], *, caption: str | None = None,
           row_levels: list[str] | None = None) -> dict:
    return {"kind": "table", "columns": list(columns), "rows": [list(map(str, r)) for r in rows],
            "caption": caption, "row_levels": row_levels or [""] * len(rows)}


def details(summary: str, blocks: list[dict], *, open_: bool = False) -> dict:
    """A collapsed group of blocks (HTML <details>): detail a decision-maker may skip."""
    return {"kind": "details", "summary": summary, "blocks": list(blocks), "open": open_}


def section(sid: str, title: str, blocks: list[dict]) -> dict:
    return {"id": sid, "title": title, "blocks": blocks}


def get_in(d: Mapping | None, *keys, default=None):
    for k in keys:
        if not isinstance(d, Mapping) or d.get(k) is None:
            return default
        d = d[k]
    return d


# -------------------------------------------------------------------------- figures


def figure_section(name: str) -> str:
    """The id of the section a figure belongs to ('appendix' when unknown)."""
    if name.endswith(DIAGNOSTIC_SUFFIXES):
        return "diagnostics"
    for prefix, sid in FIGURE_SECTIONS:
        if name.startswith(prefix):
            return sid
    return "appendix"


def is_headline_figure(name: str) -> bool:
    """Whether a figure is shown open in its section (else under "More figures")."""
    if name in _HEADLINE_FIGURES:
        return True
    return name.endswith(_HEADLINE_SUFFIXES) and name not in _DETAIL_FIGURES


#: Plain captions of the figures analyze draws (others are named from the file name).
FIGURE_CAPTIONS = {
    "conversion_posterior": "Conversion: posterior of each arm's rate and of the lift",
    "cs_engagement_posterior": "CS engagement: posterior of each arm's rate and of the lift",
    "help_completion_rates": "Completion after a help flag, CS vs OTHER, by task",
    "time_to_completion_survival_km": "Time to completion after a help flag: model against "
                                      "the Kaplan-Meier curves",
    "causal_cs_effect_causal_vs_naive": "Effect of CS on completion: causal (instrumental "
                                        "variable) vs naive comparison",
    "completions_conversion_forest": "Conversion rate by number of completed tasks and arm",
    "time_and_experience_posterior": "Time of day and experience: posterior of the log-odds "
                                     "slopes (associations)",
    "monitor": "Lift by look: always-valid confidence sequence and posterior HDI (top); "
               "P(Test better) against the naive and calibrated thresholds (bottom)",
}


def _caption(name: str) -> str:
    if name in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[name]
    words = name.replace("_", " ").replace("ppc", "posterior predictive check")
    words = words.replace("km", "Kaplan-Meier").replace("cs", "CS")
    return words[:1].upper() + words[1:]


def _figure_blocks(figures: Mapping[str, Path], out_dir: Path, *,
                   section_of=None) -> tuple[dict[str, list], list[str]]:
    """Figure blocks per section; figures that do not exist are listed, not shown."""
    section_of = section_of or figure_section
    by_section: dict[str, list] = {}
    missing: list[str] = []
    fig_dir = out_dir / "figures"
    for name, path in figures.items():
        path = Path(path)
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))
        if not path.is_file():
            missing.append(str(name))
            continue
        data = path.read_bytes()
        target = fig_dir / f"{safe}.png"
        rel_path = f"figures/{safe}.png"
        try:
            # A figure already in the output folder (monitor.png) is linked where it is.
            rel_path = path.resolve().relative_to(out_dir.resolve()).as_posix()
        except ValueError:
            # report.md links figures/<name>.png, so the file must be there whatever its source.
            fig_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        by_section.setdefault(section_of(str(name)), []).append({
            "kind": "figure",
            "name": str(name),
            "caption": _caption(str(name)),
            "data_uri": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "rel_path": rel_path,
        })
    return by_section, missing


# ------------------------------------------------------------------------ documents


def _place_figures(figures: list[dict], *, section: str) -> list[dict]:
    """Headline figures open, the rest collapsed. Sampler figures are all collapsed; a
    section with no headline figure shows its first one open."""
    if section == "diagnostics":
        n = len(figures)
        return [details(f"Trace and rank plots ({n} figure{'s' if n > 1 else ''})", figures)] \
            if figures else []
    order = list(FIGURE_CAPTIONS)
    head = sorted((f for f in figures if is_headline_figure(f["name"])),
                  key=lambda f: order.index(f["name"]) if f["name"] in order else len(order))
    if not head and figures:
        head = figures[:1]
    rest = [f for f in figures if f not in head]
    out = list(head)
    if rest:
        kinds = []
        for f in rest:
            kind = next((word for suffix, word in _FIGURE_KINDS if f["name"].endswith(suffix)),
                        "other figures")
            if kind not in kinds:
                kinds.append(kind)
        out.append(details(f"More figures ({len(rest)}): {', '.join(kinds)}", rest))
    return out


def attach_figures(doc: dict, figures: Mapping[str, Path] | None, out_dir: Path,
                    *, section_of=None) -> dict:
    by_section, missing = _figure_blocks(figures or {}, out_dir, section_of=section_of)
    ids = {s["id"] for s in doc["sections"]}
    for sec in doc["sections"]:
        placed = _place_figures(by_section.pop(sec["id"], []), section=sec["id"])
        sec["blocks"].extend(placed)
    leftovers = [f for sid, blocks in by_section.items() if sid not in ids for f in blocks]
    appendix = []
    if leftovers:
        appendix.extend(leftovers)
    if missing:
        appendix.append(para("Figures listed but not found: " + ", ".join(missing) + ".", "muted"))
    if appendix:
        glossary = [i for i, s in enumerate(doc["sections"]) if s["id"] == "glossary"]
        at = glossary[0] if glossary else len(doc["sections"])
        doc["sections"].insert(at, section("appendix", "Appendix: other figures", appendix))
    return doc


# -------------------------------------------------------------------------- output


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md_escape(value: Any) -> str:
    """Escape text for Markdown so that names and messages cannot inject markup or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def jinja_environment(*, html: bool):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md_escape
    return env


def render_document(doc: Mapping, *, out_dir: Path, stem: str = "report") -> tuple[Path, Path]:
    """Write ``out_dir/<stem>.html`` and ``out_dir/<stem>.md`` from a document."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html = jinja_environment(html=True).get_template("report.html.j2").render(doc=doc)
    md = jinja_environment(html=False).get_template("report.md.j2").render(doc=doc)
    html_path, md_path = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    html_path.write_text(html, encoding="utf-8")
    md_path.write_text(md, encoding="utf-8")
    return html_path, md_path
