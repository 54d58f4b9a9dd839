"""The Python API for notebooks: the same analyses as ``bayes-ab analyze`` and
``bayes-ab compare``, returned as objects instead of files.

    import bayes_ab
    res = bayes_ab.analyze("data/example", draws=500, tune=500)
    res                      # in Jupyter: the report's summary (recommendation first)
    res.summary()            # tidy DataFrame: model, quantity, mean, hdi_low, hdi_high, diagnostics
    res.idata["conversion"]  # ArviZ InferenceData of each model
    res.plot("trace", model="help_completion")   # a matplotlib Figure (never shown, never saved)
    res.save("out")          # the files the CLI writes (results.json, report, idata/, figures/)

    cmp = bayes_ab.compare(frame, group_col="arm", outcome_col="converted")

Nothing is written unless ``save`` is called: the pipeline works in a private temporary
folder that is removed before ``analyze`` returns (posteriors and any figures are kept in
memory).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AnalysisResult", "analyze", "compare", "PLOT_KINDS"]

#: ``AnalysisResult.plot`` kinds drawn by ArviZ on a model's InferenceData ...
ARVIZ_PLOTS = ("trace", "rank", "posterior", "forest", "ppc", "energy", "pair", "autocorr")
#: ... and for a ``compare`` result (exact draws, no sampler): each arm's posterior of the
#: outcome ("posterior") or of its difference from control ("lift").
PLOT_KINDS = ARVIZ_PLOTS + ("lift",)

#: Headline quantities of each analyze model: (results path, quantity name).
HEADLINES: dict[str, tuple[tuple[tuple[str, ...], str], ...]] = {
    "conversion": tuple(((("conversion", k)), k) for k in ("control", "test", "lift_abs",
                                                            "lift_rel")),
    "cs_engagement": tuple(((("cs_engagement", k)), k) for k in ("control", "test", "lift_abs",
                                                                  "lift_rel")),
    "help_completion": tuple((("help_channels", "completion", k), f"completion_{k}")
                             for k in ("cs", "other", "diff")),
    "time_to_completion": (
        (("help_channels", "time_to_completion", "hazard_ratio_cs_vs_other"),
         "hazard_ratio_cs_vs_other"),
        (("help_channels", "time_to_completion", "median_minutes", "cs"), "median_minutes_cs"),
        (("help_channels", "time_to_completion", "median_minutes", "other"),
         "median_minutes_other"),
    ),
    "causal_cs_effect": ((("help_channels", "causal_effect"), "causal_effect"),),
    "completions_conversion": (
        (("completions_conversion", "odds_ratio_per_completion"), "odds_ratio_per_completion"),
        *((("completions_conversion", "rate_by_completions", str(k)), f"rate_{k}_completions")
          for k in range(4)),
    ),
    "time_and_experience": tuple((("time_and_experience", k), k)
                                 for k in ("hour_effect", "experience_effect")),
}
SUMMARY_COLUMNS = ["model", "quantity", "mean", "hdi_low", "hdi_high", "hdi_prob", "r_hat",
                   "ess_bulk", "divergences", "passed"]


@dataclass
class AnalysisResult:
    """What ``analyze`` or ``compare`` found, in memory.

    ``results``: the results.json (``analyze``) or compare.json (``compare``) dict;
    ``idata``: the InferenceData of each fitted model, by model key (``compare``: empty unless
    a segment / prior model was sampled; its exact posteriors are in ``draws``);
    ``decision``: the decision block; ``findings``: the data-quality findings.
    """

    kind: str  # "analyze" or "compare"
    results: dict
    idata: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Figures drawn by the pipeline (``figures="report"`` / ``"all"``), as PNG bytes by name.
    figures: dict[str, bytes] = field(default_factory=dict, repr=False)
    #: ``compare``: arm -> posterior draws of the outcome (exact).
    draws: dict[str, Any] | None = field(default=None, repr=False)
    _run: Any = field(default=None, repr=False)

    # ---------------------------------------------------------------- contents
    @property
    def decision(self) -> dict | None:
        return self.results.get("decision")

    @property
    def findings(self) -> list[dict]:
        return list(self.results.get("data_quality") or [])

    @property
    def recommendation(self) -> str | None:
        return (self.decision or {}).get("recommendation")

    def __repr__(self) -> str:
        diag = (self.results.get("diagnostics") or {}).get("passed")
        return (f"<bayes_ab {self.kind} result: recommendation {self.recommendation!r}, "
                f"diagnostics {'passed' if diag else 'FAILED' if diag is False else 'n/a'}, "
                f"models {sorted(self.idata) or 'none sampled'}>")

    # ---------------------------------------------------------------- summary table
    def summary(self):
        """One row per headline quantity: model, quantity, posterior mean, HDI (low, high,
        prob) and the model's diagnostics (max r_hat, min bulk ESS, divergences, passed)."""
        import pandas as pd

        rows = self._summary_rows()
        return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)

    def _summary_rows(self) -> list[dict]:
        per_model = (self.results.get("diagnostics") or {}).get("per_model") or {}
        rows = []

        def add(model: str, quantity: str, block: Any, diag_key: str | None) -> None:
            if not (isinstance(block, Mapping) and {"mean", "lower", "upper"} <= set(block)):
                return
            d = per_model.get(diag_key or model) or {}
            rows.append({"model": model, "quantity": quantity, "mean": block["mean"],
                         "hdi_low": block["lower"], "hdi_high": block["upper"],
                         "hdi_prob": block.get("prob"), "r_hat": d.get("max_r_hat"),
                         "ess_bulk": d.get("min_ess_bulk"),
                         "divergences": d.get("divergences"), "passed": d.get("passed")})

        if self.kind == "analyze":
            for model, items in HEADLINES.items():
                for path, quantity in items:
                    add(model, quantity, _get(self.results, *path), model)
            return rows
        metrics = self.results.get("metrics") or {
            str((self.results.get("input") or {}).get("outcome_col", "outcome")): self.results}
        for metric, res in metrics.items():
            for arm, block in (res.get("arms") or {}).items():
                for key in ("lift_abs", "lift_rel"):
                    add(metric, f"{arm} {key}", block.get(key), None)
        return rows

    # ---------------------------------------------------------------- HTML
    def _document(self) -> dict:
        from bayes_ab.report import build_compare_document, build_document

        if self.kind == "analyze":
            return build_document(self.results)
        return build_compare_document(self.results)

    def _repr_html_(self) -> str:
        """The report's first section (banners, then the recommendation and its summary),
        rendered by the report's own template and scoped so it cannot restyle the page."""
        doc = self._document()
        first = [s for s in doc["sections"] if s["blocks"]][:1]
        return summary_html({**doc, "sections": first})

    # ---------------------------------------------------------------- figures
    def plot(self, kind: str = "posterior", *, model: str | None = None, **kwargs):
        """A matplotlib Figure: an ArviZ plot (``ARVIZ_PLOTS``) of one model's posterior
        (``model``: a key of ``idata``; default the first), or for ``compare`` the arms'
        posteriors ("posterior") or lifts over control ("lift"). ``kwargs`` go to ArviZ.
        The figure is closed in pyplot (so Jupyter shows it once, as the returned value)
        and never saved."""
        import arviz as az

        from bayes_ab.errors import OptionError
        from bayes_ab.plotting.figure import detach

        if kind not in PLOT_KINDS:
            raise OptionError(f"plot kind must be one of {', '.join(PLOT_KINDS)}, got {kind!r}")
        if self.kind == "compare" and model is None and self.draws is not None:
            idata = self._compare_idata(lift=(kind == "lift"))
            if kind == "lift":
                kind, kwargs = "posterior", {"ref_val": 0.0, **kwargs}
        else:
            if kind == "lift":
                raise OptionError("plot kind 'lift' is for a compare result")
            if not self.idata:
                raise OptionError("no model was fitted in this result")
            model = model or next(iter(self.idata))
            if model not in self.idata:
                raise OptionError(f"no model {model!r}; fitted: {', '.join(self.idata)}")
            idata = self.idata[model]
        with _quiet_arviz():
            axes = getattr(az, f"plot_{kind}")(idata, **kwargs)
        return detach(axes)

    def _compare_idata(self, *, lift: bool):
        import arviz as az
        import numpy as np

        control = self.results["control"]
        draws = {arm: np.asarray(v, dtype=float) for arm, v in self.draws.items()}
        if lift:
            post = {f"{arm} - {control}": (draws[arm] - draws[control])[None, :]
                    for arm in draws if arm != control}
        else:
            post = {arm: v[None, :] for arm, v in draws.items()}
        return az.from_dict(posterior=post)

    # ---------------------------------------------------------------- files
    def save(self, out: str | Path, *, force: bool = False) -> Path:
        """Write what the CLI writes into the folder ``out`` (refused if it exists, unless
        ``force``): analyze: results.json, report.html, report.md, idata/*.nc and figures/
        (the figures drawn, if ``figures`` was asked); compare: compare.json, report.html,
        report.md, figures/."""
        from bayes_ab.io import staged_output_dir, write_json

        with staged_output_dir(out, force=force) as tmp:
            if self.kind == "compare":
                from bayes_ab.workflows.compare import write_compare

                write_compare(self._run, tmp, figures=True)
                return Path(out)
            from bayes_ab.inference.fit import save_idata
            from bayes_ab.report import render_report

            write_json(tmp / "results.json", self.results)
            for key, idata in self.idata.items():
                save_idata(idata, tmp / "idata" / f"{key}.nc")
            figures = {}
            for name, png in self.figures.items():
                path = tmp / "figures" / f"{name}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png)
                figures[name] = path
            render_report(self.results, figures=figures, out_dir=tmp)
        return Path(out)


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _quiet_arviz():
    from bayes_ab.inference.known_warnings import known_warnings_silenced

    return known_warnings_silenced()


# -------------------------------------------------------------------- HTML summary

_SCOPE = "bayes-ab-summary"


def _scoped_css(css: str) -> str:
    """The report's CSS with every rule limited to the summary's own element."""
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        scoped = []
        for sel in selectors.split(","):
            sel = sel.strip()
            if sel in (":root", "body", "main"):
                scoped.append(f".{_SCOPE}")
            elif sel == "*":
                scoped.append(f".{_SCOPE} *")
            else:
                scoped.append(f".{_SCOPE} {sel}")
        rules.append(f"{', '.join(scoped)} {{ {' '.join(body.split())} }}")
    return "\n".join(rules)


def summary_html(doc: Mapping) -> str:
    """An HTML fragment of a report document (bayes_ab.report.common), for Jupyter."""
    from bayes_ab.report.common import jinja_environment

    page = jinja_environment(html=True).get_template("report.html.j2").render(doc=doc)
    css = re.search(r"<style>(.*?)</style>", page, flags=re.S)
    main = re.search(r"<main>(.*?)</main>", page, flags=re.S)
    body = re.sub(r"<nav>.*?</nav>", "", main.group(1) if main else page, flags=re.S)
    style = f"<style>{_scoped_css(css.group(1))}</style>" if css else ""
    return f'<div class="{_SCOPE}">{style}{body}</div>'


# -------------------------------------------------------------------- entry points


def analyze(
    path: str | Path | None = None,
    *,
    source: str | None = None,
    tables: str | dict | None = None,
    spark_master: str | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    sampler: str = "nutpie",
    threshold: float | None = None,
    design_share: float | None = None,
    revenue_per_conversion: float | None = None,
    cost_per_cs_contact: float | None = None,
    prior_sensitivity: str = "decision",
    figures: str = "none",
    forensics: bool = True,
    engine: str = "auto",
    progress: bool = False,
    options: Any = None,
) -> AnalysisResult:
    """``bayes-ab analyze`` on the experiment folder ``path``, in memory.

    The keywords are the CLI's options (``figures``: "none" (default; draw them with
    ``.plot``), "report" or "all": the pipeline's PNGs, kept for ``save``). ``options``, a
    ``bayes_ab.workflows.analyze.AnalyzeOptions``, replaces them all. ``progress=True`` prints one
    line per stage. Nothing is written: the pipeline's output folder is a temporary one,
    removed before this returns.

    The data: ``path`` (a folder with the four files), or ``source`` (a
    ``postgresql://`` / ``duckdb:///`` URL or ``"spark"``) with ``tables``, as the CLI's
    ``--source`` / ``--tables``; ``engine="spark"`` (with ``spark_master``) reads the
    folder's files through Spark. A ``path`` that is a URL is taken as ``source``."""
    from bayes_ab.errors import OptionError
    from bayes_ab.inference.fit import SamplerConfig
    from bayes_ab.workflows.analyze import AnalyzeOptions
    from bayes_ab.workflows.analyze import analyze as run_pipeline

    from bayes_ab.aggregate.source import resolve_input

    if source is None and isinstance(path, str) and (
            "://" in path or path.strip().lower() == "spark"):
        path, source = None, path
    data_dir = resolve_input(path, source=source, tables=tables, engine=engine,
                             master=spark_master)
    if engine == "spark":  # the source says where the aggregation runs
        engine = "auto"
    if options is None:
        if figures not in ("none", "report", "all"):
            raise OptionError(f"figures must be none, report or all, got {figures!r}")
        kwargs: dict[str, Any] = {}
        if seed is not None:
            kwargs["seed"] = int(seed)
        if design_share is not None:
            if not 0 < design_share < 1:
                raise OptionError(f"design_share must be in (0, 1), got {design_share}")
            kwargs_opts = {"design_test_share": float(design_share)}
        else:
            kwargs_opts = {}
        if threshold is not None and not threshold > 0:
            raise OptionError(f"threshold must be > 0, got {threshold}")
        options = AnalyzeOptions(
            sampler=SamplerConfig(sampler=sampler, draws=draws, tune=tune, chains=chains,
                                  **kwargs),
            threshold_of_caring=threshold, revenue_per_conversion=revenue_per_conversion,
            cost_per_cs_contact=cost_per_cs_contact, figures=figures != "none",
            figure_set="all" if figures == "all" else "report",
            prior_sensitivity=prior_sensitivity, forensics=forensics, engine=engine,
            **kwargs_opts)
    from bayes_ab.io import pytensor_sources_scope

    say = print if progress else None
    with _quiet_arviz(), pytensor_sources_scope(), \
            tempfile.TemporaryDirectory(prefix="bayes_ab_") as tmp:
        run = run_pipeline(data_dir, out_dir=tmp, options=options, progress=say)
        pngs = {name: Path(p).read_bytes() for name, p in run.figures.items()
                if Path(p).is_file()}
    return AnalysisResult(kind="analyze", results=run.results, idata=dict(run.idata),
                          figures=pngs, _run=run)


def compare(frame_or_path: Any, *, group_col: str, outcome_col: str | list[str],
            **kwargs: Any) -> AnalysisResult:
    """``bayes-ab compare`` on a file (CSV, CSV.gz, Parquet) or a pandas DataFrame, in
    memory. ``kwargs`` are those of ``bayes_ab.workflows.compare.run_compare`` (``control``,
    ``config`` (a SamplerConfig), ``threshold``, ``rope``, ``segment_col``, ...). A
    DataFrame is checked exactly as a file would be (it goes through a private temporary
    Parquet file, removed before this returns; messages name it ``dataframe.parquet``)."""
    from bayes_ab.io import pytensor_sources_scope
    from bayes_ab.workflows.compare import run_compare

    with _quiet_arviz(), pytensor_sources_scope():
        if isinstance(frame_or_path, (str, Path)):
            run = run_compare(frame_or_path, group_col=group_col, outcome_col=outcome_col,
                              **kwargs)
        else:
            import pandas as pd

            if not isinstance(frame_or_path, pd.DataFrame):
                from bayes_ab.errors import OptionError

                raise OptionError("compare takes a file path or a pandas DataFrame, got "
                                  f"{type(frame_or_path).__name__}")
            with tempfile.TemporaryDirectory(prefix="bayes_ab_") as tmp:
                path = Path(tmp) / "dataframe.parquet"
                frame_or_path.to_parquet(path, index=False)
                run = run_compare(path, group_col=group_col, outcome_col=outcome_col,
                                  **kwargs)
            inp = run.results.get("input") or {}
            for key in ("file", "source", "path"):
                if key in inp:
                    inp[key] = "<DataFrame>"
    idata = {}
    if getattr(run, "idata", None) is not None:
        idata["model"] = run.idata
    return AnalysisResult(kind="compare", results=run.results, idata=idata, draws=run.draws,
                          _run=run)
