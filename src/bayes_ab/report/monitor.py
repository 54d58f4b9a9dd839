"""The report of `bayes-ab monitor`: ``build_monitor_document`` turns monitor.json into a
document (where the running experiment stands, whether a peeking-safe rule says stop, the
look-by-look table), ``render_monitor_report`` writes monitor.html and monitor.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bayes_ab.report import common as C
from bayes_ab.report import text as T

__all__ = ["build_monitor_document", "render_monitor_report"]

# ------------------------------------------------------------------------- monitor


_MONITOR_GLOSSARY = (
    ("Always-valid confidence sequence", "A range for the lift that holds, with 95% "
     "probability, at every look at once: unlike a daily confidence interval, looking every day "
     "and stopping when it excludes zero keeps the false-positive rate at 5%."),
    ("Peeking", "Checking a fixed-horizon test (p < 0.05, or P(better) > 95%) every day and "
     "stopping at the first success: with 30 looks this declares a winner in about a quarter of "
     "experiments where there is none."),
    ("Calibrated Bayesian rule", "Stop when P(Test better) (or worse) passes a threshold chosen "
     "by simulating experiments with no difference and the planned look schedule (a plan file "
     "fixed on the first run and reused), so that the false-positive rate stays at the "
     "promised level however often the monitor is rerun."),
)


def _stop_line(rule: Mapping | None, *, name: str, test: str, control: str) -> tuple[str, str]:
    """(sentence, level) for one stopping rule."""
    if not rule:
        return f"{name}: {T.NOT_ESTIMATED}.", "neutral"
    if rule.get("available") is False:
        return f"{name}: not computed, {rule.get('reason')}.", "neutral"
    if not rule.get("stopped"):
        return f"{name}: keep going, no stop yet.", "neutral"
    better = rule.get("direction") == "test_better"
    what = f"{test} is better than {control}" if better else f"{test} is worse than {control}"
    return (f"{name}: stop, {what} (since look {T.count(rule.get('look'))}, "
            f"{rule.get('date')}).", "good" if better else "bad")


def build_monitor_document(result: Mapping, *, title: str | None = None) -> dict:
    """The report of `bayes-ab monitor`: where the running experiment stands, whether a
    peeking-safe rule says stop, and the look-by-look table."""
    inp = result.get("input") or {}
    control, test = str(inp.get("control", "control")), str(inp.get("test", "test"))
    metric = str(inp.get("metric") or "outcome")
    latest = result.get("latest") or {}
    stopping = result.get("stopping") or {}
    settings = result.get("settings") or {}
    looks = list(result.get("looks") or [])
    cs_line, cs_level = _stop_line(stopping.get("confidence_sequence"),
                                   name="Confidence-sequence rule", test=test, control=control)
    by_line, by_level = _stop_line(stopping.get("bayes_calibrated"),
                                   name="Calibrated Bayesian rule", test=test, control=control)
    stopped = [lv for lv in (cs_level, by_level) if lv != "neutral"]
    level = stopped[0] if stopped else "neutral"
    if cs_level != "neutral":
        headline = ("Stop: " + (f"{test} is better than {control}." if cs_level == "good"
                                else f"{test} is worse than {control}."))
    elif by_level != "neutral":
        headline = ("Stop (calibrated Bayesian rule): " + (
            f"{test} is better than {control}." if by_level == "good"
            else f"{test} is worse than {control}."))
    else:
        headline = "Keep going: no peeking-safe rule says stop yet."
    noun = T.metric_info(metric)["noun"]
    lines = [
        f"Latest look ({latest.get('date', T.NOT_ESTIMATED)}): lift in {noun} ({test} - "
        f"{control}) {T.interval(latest.get('confidence_sequence'), T.pp, kind='always-valid CS')}"
        f"; posterior {T.interval(latest.get('posterior_lift_abs'), T.pp)}; probability that "
        f"{test} is better: {T.prob(latest.get('prob_test_better'))}; always-valid "
        f"{T.p_equals(latest.get('always_valid_p'))}.",
        cs_line, by_line,
    ]
    safe_looks = [r.get("look") for r in (stopping.get("confidence_sequence"),
                                          stopping.get("bayes_calibrated"))
                  if isinstance(r, Mapping) and r.get("stopped") and r.get("look")]
    first_safe = min(safe_looks) if safe_looks else float("inf")
    naive = [(r["look"], name, r) for key, name in (
                 ("naive_p_value", "A naive daily p-value"),
                 ("naive_prob_better", "A naive daily P(better) > 95%"))
             for r in [stopping.get(key) or {}]
             if r.get("stopped") and r.get("look") and r["look"] < first_safe]
    if naive:
        # The earliest naive stop that comes before any peeking-safe one.
        _, name, rule = min(naive, key=lambda t: t[0])
        lines.append(f"{name} would have stopped already on {rule.get('date')} (look "
                     f"{T.count(rule.get('look'))}): calling it that early is the peeking "
                     f"bias these rules avoid.")
    blocks = [C.callout(level, headline, lines),
              C.para("The confidence-sequence rule keeps its promised error rate "
                    f"({T.pct(settings.get('alpha'), digits=0)} false positives) however often "
                    "you look, including unplanned looks; the calibrated Bayesian rule keeps it "
                    "over the planned looks of its plan; a daily p-value or P(better) > 95% "
                    "does not.", "muted")]
    sections = [C.section("status", "Where the experiment stands", blocks)]
    if looks:
        rows = [[str(lk.get("date")), f"{T.count(lk.get('n_control'))} / {T.count(lk.get('n_test'))}",
                 f"{T.pct(lk.get('rate_control'))} / {T.pct(lk.get('rate_test'))}",
                 T.pp(lk.get("lift_abs_observed")),
                 T.bounds(lk.get("confidence_sequence"), T.pp),
                 T.prob(lk.get("prob_test_better")),
                 "yes" if lk.get("stop_confidence_sequence") else
                 "no" if lk.get("eligible") else "too few events"]
                for lk in looks]
        levels = ["warn" if lk.get("stop_confidence_sequence") else "" for lk in looks]
        table = C.table(["Date", f"{control} / {test}", "Rates", "Observed lift",
                        "95% always-valid CS", f"P({test} better)", "CS excludes 0"], rows,
                       row_levels=levels, caption="Cumulative counts at each look")
        sections.append(C.section("looks", f"Look by look ({len(looks)} looks)", [
            table if len(rows) <= 10 else C.details(f"All {len(rows)} looks", [table])]))
    method = []
    if settings:
        method.append(f"Confidence sequence: normal-mixture SPRT, mixture spread tau = "
                      f"{T.pp(settings.get('tau'), signed=False)}; set from: "
                      f"{settings.get('tau_source')}.")
        cal = settings.get("calibration") or {}
        if settings.get("bayes_threshold") is not None:
            method.append(f"Calibrated Bayesian threshold: P(better) above "
                          f"{T.num(settings.get('bayes_threshold'), digits=4)}, from "
                          f"{T.count(cal.get('n_sims'))} simulated experiments with no "
                          f"difference ({cal.get('method', 'A/A simulation')}).")
        method.append(f"Prior: {settings.get('prior', T.NOT_ESTIMATED)}.")
        method.append(f"A look may stop only once each arm has {T.count(settings.get('min_events'))}"
                      f" successes and failures.")
    if inp.get("control_note"):
        method.append(str(inp["control_note"]))
    if method:
        sections.append(C.section("method", "How it was computed", [C.bullets(method)]))
    sections.append(C.section("glossary", "Glossary",
                             [{"kind": "glossary", "items": list(_MONITOR_GLOSSARY)}]))
    subtitle = (f"{T.count(len(looks))} looks, {looks[0].get('date')} to {looks[-1].get('date')}"
                if looks else "")
    return {"title": title or f"Monitoring {test} against {control}: {noun}",
            "subtitle": subtitle, "banners": [], "sections": sections}


def render_monitor_report(result: Mapping, *, figure: Path | None = None, out_dir: Path,
                          title: str | None = None) -> tuple[Path, Path]:
    """Write ``monitor.html`` and ``monitor.md`` for `bayes-ab monitor` (the figure, e.g.
    monitor.png, is shown under the status). Returns (monitor.html, monitor.md)."""
    out_dir = Path(out_dir)
    doc = build_monitor_document(result, title=title)
    figures = {"monitor": Path(figure)} if figure is not None else {}
    doc = C.attach_figures(doc, figures, out_dir, section_of=lambda name: "status")
    return C.render_document(doc, out_dir=out_dir, stem="monitor")
