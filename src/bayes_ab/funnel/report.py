"""Figures and the self-contained HTML report of the funnel (reads `FunnelResults` only).

Figures are PNGs written to ``OUT/figures`` and embedded in the HTML as base64, so the
report is one file that opens anywhere. matplotlib runs with the Agg backend.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_ab.funnel.load import STAGES, STATUS_LABELS


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    plt = _plt()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_funnel(summary: dict, path: Path) -> Path:
    plt = _plt()
    reach = summary["at_or_beyond_stage"]
    trans = summary["stage_transitions"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ys = [reach[str(k)] for k in STAGES]
    ax.barh([STATUS_LABELS[k] for k in STAGES][::-1], ys[::-1], color="#4C72B0")
    for i, k in enumerate(STAGES[::-1]):
        ax.text(reach[str(k)], i, f" {reach[str(k)]}", va="center", fontsize=8)
    labels = [f"{k} -> {k + 1}: {trans[f'{k}_to_{k + 1}']['posterior']['mean']:.1%} "
              f"[{trans[f'{k}_to_{k + 1}']['posterior']['lower']:.1%}, "
              f"{trans[f'{k}_to_{k + 1}']['posterior']['upper']:.1%}]" for k in STAGES[:-1]]
    ax.set_title("Leads at or beyond each stage\n" + "; ".join(labels), fontsize=8)
    ax.set_xlabel("leads")
    return _save(fig, path)


def plot_attrition(attrition: pd.DataFrame, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    share = attrition.div(attrition[1], axis=0)
    for ind, row in share.iterrows():
        ax.plot(list(row.index), row.values, marker="o", lw=1,
                label=f"{ind} (n={attrition.loc[ind, 1]})")
    ax.set_xticks(list(STAGES))
    ax.set_xlabel("stage")
    ax.set_ylabel("share of the industry's leads at or beyond")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.legend(fontsize=6, ncol=2)
    ax.set_title("Attrition by industry (Figure 2 of the report, as shares)")
    return _save(fig, path)


def plot_heatmap(table: pd.DataFrame, path: Path, *, title: str) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.1 * table.shape[1] + 3, 0.35 * table.shape[0] + 1.5))
    values = np.log1p(table.to_numpy(dtype=float))
    im = ax.imshow(values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=35,
                  ha="right", fontsize=7)
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index], fontsize=7)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.iat[i, j]
            if pd.notna(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=6,
                        color="w" if values[i, j] < values[np.isfinite(values)].max() / 2 else "k")
    fig.colorbar(im, ax=ax, label="log(1 + mean interactions per lead)")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_stage_forest(rates: pd.DataFrame, overall: dict, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.32 * max(len(rates), 3) + 1.5))
    y = np.arange(len(rates))
    colours = rates["verdict"].map({"above": "#2ca02c", "below": "#d62728"}).fillna("#555555")
    ax.hlines(y, rates["lower"], rates["upper"], color=colours, lw=2)
    ax.plot(rates["mean"], y, "o", color="k", ms=4, label="pooled posterior mean (95% HDI)")
    ax.plot(rates["observed"], y, "x", color="#ff7f0e", ms=6, label="observed (report)")
    ax.axvspan(overall["lower"], overall["upper"], color="#1f77b4", alpha=0.12)
    ax.axvline(overall["mean"], color="#1f77b4", lw=1, label="population mean rate")
    ax.set_yticks(y, [f"{r.industry} ({r.n})" for r in rates.itertuples()], fontsize=7)
    ax.set_xlabel("P(stage >= 4 | stage >= 3)")
    ax.set_title("Stage 3 -> 4 conversion by industry: partial pooling (n at stage >= 3)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_journeys(summary: dict, path: Path) -> Path:
    plt = _plt()
    top = summary["top_journeys"][:10]
    fig, ax = plt.subplots(figsize=(8, 0.4 * max(len(top), 3) + 1))
    labels = [" > ".join(t["path"]) for t in top][::-1]
    ax.barh(range(len(top)), [t["n_leads"] for t in top][::-1], color="#8172B2")
    ax.set_yticks(range(len(top)), labels, fontsize=6)
    ax.set_xlabel("leads")
    ax.set_title("Most common user journeys (distinct types by first occurrence)", fontsize=9)
    return _save(fig, path)


def plot_weekly(weekly: pd.DataFrame, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for k in weekly.columns:
        if weekly[k].notna().any() and weekly[k].sum() > 0:
            ax.plot(weekly.index, weekly[k], marker=".", label=STATUS_LABELS.get(int(k), k))
    ax.set_ylabel("distinct events per lead per week")
    ax.set_title("Activity over time by final status", fontsize=9)
    ax.legend(fontsize=7)
    fig.autofmt_xdate()
    return _save(fig, path)


def plot_effects(summary: dict, path: Path) -> Path:
    plt = _plt()
    eff = summary["heuristics"]["top_predictors"]
    fig, ax = plt.subplots(figsize=(6, 0.35 * max(len(eff), 3) + 1))
    y = np.arange(len(eff))
    ax.hlines(y, [e["effect"]["lower"] for e in eff], [e["effect"]["upper"] for e in eff])
    ax.plot([e["effect"]["mean"] for e in eff], y, "o", color="k")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, [e["name"] for e in eff], fontsize=7)
    ax.set_xlabel("log-odds of status >= 4 per SD of log(1 + count) (95% HDI)")
    return _save(fig, path)


def write_figures(results, fig_dir: Path) -> dict[str, Path]:
    from bayes_ab.funnel.pipeline import industry_rate_table

    fig_dir.mkdir(parents=True, exist_ok=True)
    s, t = results.summary, results.tables
    figs = {
        "funnel": plot_funnel(s, fig_dir / "funnel.png"),
        "attrition_by_industry": plot_attrition(t["attrition"], fig_dir / "attrition_by_industry.png"),
        "interactions_by_status": plot_heatmap(
            t["table1"], fig_dir / "interactions_by_status.png",
            title="Mean interactions per lead by status (Table 1)"),
        "interactions_by_industry": plot_heatmap(
            t["table2"], fig_dir / "interactions_by_industry.png",
            title="Mean interactions per lead by industry (Table 2)"),
        "stage3_to_4_forest": plot_stage_forest(
            industry_rate_table(s), s["stage3_to_4_pooled"]["overall"],
            fig_dir / "stage3_to_4_forest.png"),
        "journeys": plot_journeys(s, fig_dir / "journeys.png"),
        "activity_over_time": plot_weekly(t["weekly"], fig_dir / "activity_over_time.png"),
        "predictor_effects": plot_effects(s, fig_dir / "predictor_effects.png"),
    }
    _plt().close("all")
    return figs


# ------------------------------------------------------------------------------ HTML


def _pct(iv: dict | None) -> str:
    if not iv:
        return "n/a"
    return f"{iv['mean']:.1%} [{iv['lower']:.1%}, {iv['upper']:.1%}]"


def _num(iv: dict) -> str:
    return f"{iv['mean']:.2f} [{iv['lower']:.2f}, {iv['upper']:.2f}]"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/></figure>'


def _table(df: pd.DataFrame, fmt: str = "{:.1f}") -> str:
    return df.to_html(float_format=lambda v: fmt.format(v), border=0, classes="t")


def render_html(results, figs: dict[str, Path]) -> str:
    s = results.summary
    e = html.escape
    diag = s["diagnostics"]
    conv = s["conversion_to_opportunity"]
    pooled = s["stage3_to_4_pooled"]
    ge4 = s["advanced_lead_models"]["status>=4"]
    eq5 = s["advanced_lead_models"]["status==5"]
    cl = s["claims"]
    rules = pd.DataFrame([{
        "rule": r["text"], "flagged": r["n_flagged"],
        "precision": _pct(r["precision"]), "recall": _pct(r["recall"]),
        "lift": "n/a" if r["lift_over_base_rate"] is None else f"{r['lift_over_base_rate']:.1f}x",
    } for r in s["heuristics"]["rules"]])
    s34 = pd.DataFrame([{
        "industry": k, "n at >= 3": v["n_at_3_or_beyond"], "n at >= 4": v["n_at_4_or_beyond"],
        "observed": "n/a" if v["observed"] is None else f"{v['observed']:.1%}",
        "pooled (95% HDI)": _pct(v["posterior"]), "P(above overall)":
            "n/a" if v["prob_above_overall"] is None else f"{v['prob_above_overall']:.2f}",
        "verdict": v["verdict"]} for k, v in s["stage3_to_4_by_industry"].items()])
    dq = "".join(f"<li>{e(f['severity'])}: {e(f['message'])}</li>" for f in s["data_quality"])
    early = s["time"]["early_signal_auc"]
    early_rows = pd.DataFrame({w: {k: _num(v) for k, v in row.items()} for w, row in early.items()}).T
    gate = "passed" if diag["passed"] else "FAILED - treat the model results as provisional"
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Lead funnel</title>",
        "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.4}"
        "img{max-width:100%}table.t{border-collapse:collapse;font-size:12px}"
        "table.t td,table.t th{border-bottom:1px solid #ddd;padding:2px 6px;text-align:right}"
        ".warn{color:#b00}</style></head><body>",
        "<h1>Lead funnel: the report reproduced, then tested</h1>",
        f"<p>{s['n_leads']} leads, {s['n_leads_with_events']} with events; "
        f"{s['n_events_raw']:,} event rows, {s['n_events_distinct']:,} distinct. "
        f"Conversion to opportunity: {conv['n']}/{conv['n_leads']} = {conv['rate']:.2%} "
        f"(posterior {_pct(conv['posterior'])}).</p>",
        f"<p>Diagnostics: max r_hat {diag['max_r_hat']}, min bulk ESS {diag['min_ess_bulk']}, "
        f"divergences {diag['divergences']}: <b class='{'' if diag['passed'] else 'warn'}'>{gate}</b>.</p>",
        "<h2>Definitions</h2><ul>" + "".join(
            f"<li><b>{e(k)}</b>: {e(str(v))}</li>" for k, v in s["definitions"].items()) + "</ul>",
        "<h2>The funnel</h2>", _img(figs["funnel"], "funnel"),
        "<h2>Interactions by status (Table 1) and by industry (Table 2)</h2>",
        _img(figs["interactions_by_status"], "Table 1 heatmap"),
        _table(results.tables["table1"]),
        _img(figs["interactions_by_industry"], "Table 2 heatmap"),
        "<h2>Attrition by industry</h2>", _img(figs["attrition_by_industry"], "attrition"),
        "<h2>Stage 3 -> 4 by industry, partially pooled</h2>",
        f"<p>Population mean rate {_pct(pooled['overall'])} (pooled observed "
        f"{pooled['pooled_observed']:.1%}). Credibly above: "
        f"{e(', '.join(pooled['credibly_above']) or 'none')}; credibly below: "
        f"{e(', '.join(pooled['credibly_below']) or 'none')}.</p>",
        _img(figs["stage3_to_4_forest"], "stage 3 to 4 forest"), s34.to_html(index=False, border=0, classes="t"),
        "<h2>What predicts an advanced lead</h2>",
        f"<p>{e(s['heuristics']['model'])}. Held-out AUC (status >= 4): "
        f"{_num(ge4['auc_test'])} over all held-out leads, {_num(ge4['auc_test_leads_with_events'])} "
        f"among held-out leads with events (status-1 leads have no events, which makes the first "
        f"figure easy). Stage 5: {_num(eq5['auc_test'])}. LOO gain of the interaction counts over "
        f"industry alone: {ge4['loo_gain_from_interactions']['elpd_diff']:.1f} "
        f"(SE {ge4['loo_gain_from_interactions']['se']:.1f}) elpd.</p>",
        _img(figs["predictor_effects"], "effects"),
        "<h3>Rules a sales team can use (held-out leads)</h3>",
        rules.to_html(index=False, border=0, classes="t"),
        "<h2>The report's claims, tested</h2><ul>",
        f"<li>Technical industries convert better (stage 3 -> 4): P = "
        f"{cl['technical_industries_convert_better']['prob_holds']:.3f}; technical "
        f"{_pct(cl['technical_industries_convert_better']['stage3_to_4']['technical'])} vs "
        f"{_pct(cl['technical_industries_convert_better']['stage3_to_4']['non_technical'])}.</li>",
        f"<li>The inflection is between 3 and 4 (3 -> 4 is the lowest continuation rate): P = "
        f"{cl['inflection_between_3_and_4']['prob_holds']:.3f}.</li>",
        f"<li>Non-technical leads favour the forums over the docs more than technical leads do: "
        f"P = {cl['non_technical_prefer_forums_over_docs']['prob_holds']} (the literal "
        f"'non-technical leads use forums more than docs': P = "
        f"{cl['non_technical_prefer_forums_over_docs']['prob_literal_non_technical_forums_more_than_docs']}; "
        f"technical leads do too).</li></ul>",
        "<h2>User journeys</h2>", _img(figs["journeys"], "journeys"),
        "<h2>Time</h2>", _img(figs["activity_over_time"], "activity over time"),
        "<p>AUC (status >= 4 vs not, leads with events) of the counts in each lead's first "
        "D days of activity:</p>", early_rows.to_html(border=0, classes="t"),
        "<h2>Data quality</h2><ul>" + (dq or "<li>no findings</li>") + "</ul>",
        "<details><summary>funnel.json</summary><pre>"
        + e(json.dumps({k: s[k] for k in ("diagnostics", "sampler")}, indent=1, default=str))
        + "</pre></details>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(results, out_dir: Path) -> Path:
    figs = write_figures(results, out_dir / "figures")
    path = out_dir / "funnel_report.html"
    path.write_text(render_html(results, figs), encoding="utf-8")
    return path
