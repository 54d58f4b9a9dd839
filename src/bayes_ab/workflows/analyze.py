"""`bayes-ab analyze`: from the four files to results.json, figures, posteriors and report.

    data  = load_experiment(DIR)                      # built once (frame + episode tables)
    stats = <Model>.stats_type.from_experiment(data)  # sufficient statistics per question
    # or, for big inputs (--engine duckdb, or auto above ENGINE_AUTO_BYTES / _ROWS):
    agg   = aggregate_experiment(DIR)                 # DuckDB reduces the files
    stats = agg.stats_for(<Model>.stats_type)         # the same statistics
    idata = <Model>(stats).fit(sampler_config)        # nutpie by default, one seed
    gate  = model.diagnostics(idata)                  # r_hat, ESS, divergences
    block = model.summarize(idata)                    # the results.json block

A model that cannot be estimated on a given dataset (e.g. no help flags at all) gives a
null block and an error-severity data-quality finding; it never stops the other answers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayes_ab.constants import DESIGN_TEST_SHARE, SCHEMA_VERSION
from bayes_ab.data.schema import ExperimentData, ExperimentSource, Finding
from bayes_ab.errors import BayesAbError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.fit_many import fit_models
from bayes_ab.models.arm_comparison import ArmComparison
from bayes_ab.models.registry import MODEL_STEPS, ModelStep, model_step
from bayes_ab.plotting import (
    FIGURE_KINDS,
    GATE_FIGURE_KINDS,
    REPORT_FIGURE_KINDS,
    figure_kinds,
    save_figures,
)
from bayes_ab.results import to_jsonable
from bayes_ab.workflows.background import Background
from bayes_ab.results_schema import HelpChannels, SrmCheck

if TYPE_CHECKING:  # pragma: no cover
    from bayes_ab.aggregate.source import DatabaseSource


# The models of a full analysis (`ModelStep`: key, model class, stats options, label) are
# the registry's `bayes_ab.models.registry.MODEL_STEPS`, imported above; this module's
# functions read the name here (tests narrow it with monkeypatch).


@dataclass(frozen=True)
class AnalyzeOptions:
    sampler: SamplerConfig = SamplerConfig()
    threshold_of_caring: float | None = None
    design_test_share: float = DESIGN_TEST_SHARE
    revenue_per_conversion: float | None = None
    #: Cost of one more CS-engaged customer (a "CS contact"), in the revenue's currency:
    #: with revenue_per_conversion, the decision's net value per customer (decision.cs_cost).
    cost_per_cs_contact: float | None = None
    figures: bool = True
    #: Worker processes for the sampled models' compile + sampling (1: in this process, the
    #: API's default; the CLI takes two where there are two cores). Results do not depend on it.
    workers: int = 1
    #: Which ArviZ figures to draw when ``figures``: "report" (the ones the report shows
    #: open, plus trace and rank plots of a model that fails the gate) or "all".
    figure_set: str = "report"
    forensics: bool = True
    #: Refit under weaker and stronger priors: "all" models, only the "decision" metrics
    #: (conversion, CS engagement), or "none".
    prior_sensitivity: str = "decision"
    #: How the files become sufficient statistics: "pandas" (per-customer frame in memory,
    #: line-numbered errors), "duckdb" (bayes_ab.aggregate: flat memory, big data) or
    #: "auto" (duckdb above ENGINE_AUTO_BYTES of input or a Parquet file over
    #: ENGINE_AUTO_ROWS rows, else pandas).
    engine: str = "auto"
    #: DuckDB engine: memory cap of its buffer pool (it spills to disk above it).
    engine_memory: str = "3GB"
    #: Run the stages that do not feed the fits (each model's summary, netCDF and figures,
    #: the frequentist cross-checks, the forensics) in forked child processes while the
    #: next model compiles and samples (Linux; elsewhere, or False: one after the other in
    #: this process). Results do not depend on it (bayes_ab.workflows.background). Tables
    #: in a database (``--source``, Spark) are always analysed in one process.
    background: bool = True


ENGINES = ("auto", "pandas", "duckdb")
#: `engine="auto"` takes DuckDB above this many bytes of input files ...
ENGINE_AUTO_BYTES = 200 * 1024 * 1024
#: ... or when a Parquet input has more rows than this.
ENGINE_AUTO_ROWS = 2_000_000
#: With the DuckDB engine: Cox regression only up to this many help flags (lifelines on
#: one row per flag); above it the log-rank test (grouped times) stands alone.
COX_MAX_FLAGS = 200_000
#: With the DuckDB engine: forensics (which reads the raw files with pandas) only up to
#: this many customers.
FORENSICS_MAX_CUSTOMERS = 200_000


def resolve_engine(data_dir: str | Path, engine: str = "auto") -> str:
    """"pandas" or "duckdb" for the folder (see `AnalyzeOptions.engine`)."""
    from bayes_ab.errors import OptionError

    if engine not in ENGINES:
        raise OptionError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "auto":
        return engine
    files = [f for f in Path(data_dir).iterdir() if f.is_file()
             and f.name.lower().endswith((".csv", ".csv.gz", ".parquet"))]
    if sum(f.stat().st_size for f in files) > ENGINE_AUTO_BYTES:
        return "duckdb"
    for f in files:
        if f.name.lower().endswith(".parquet"):
            try:
                import pyarrow.parquet as pq

                if pq.ParquetFile(f).metadata.num_rows > ENGINE_AUTO_ROWS:
                    return "duckdb"
            except Exception:  # unreadable: let the pandas loader report it
                continue
    return "pandas"


@dataclass
class AnalysisRun:
    """What a run produced (results.json dict plus the files beside it)."""

    results: dict
    figures: dict[str, Path]
    idata_paths: dict[str, Path]
    timings: dict[str, float]
    #: The fitted posteriors in memory, by model key (the same as ``idata_paths``' files).
    idata: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[str], None]


@dataclass(frozen=True)
class StepEvent:
    """One stage of a run, for a structured progress display (``analyze(on_step=...)``):
    ``status`` "start", then "done" or "failed"; a model's "done" carries its compile and
    sampling seconds (``exact``: closed-form draws, no sampler)."""

    key: str
    label: str
    status: str
    kind: str = "stage"  # "stage" or "model"
    seconds: float | None = None
    compile_seconds: float | None = None
    sample_seconds: float | None = None
    exact: bool = False
    detail: str = ""


StepCallback = Callable[[StepEvent], None]


class _Steps:
    """Sends each stage to the plain ``progress(msg)`` callback (as before) and to the
    structured ``on_step(StepEvent)`` one."""

    def __init__(self, progress: Progress | None, on_step: StepCallback | None) -> None:
        self.say = progress or (lambda _msg: None)
        self.on_step = on_step
        self._t0: dict[str, tuple[str, str, float]] = {}

    def start(self, key: str, label: str, *, message: str | None = None,
              kind: str = "stage") -> None:
        self.say(message or label)
        self._t0[key] = (label, kind, time.perf_counter())
        if self.on_step:
            self.on_step(StepEvent(key, label, "start", kind))

    def end(self, key: str, status: str = "done", **info: Any) -> None:
        label, kind, t0 = self._t0.pop(key)
        if self.on_step:
            self.on_step(StepEvent(key, label, status, kind,
                                   seconds=time.perf_counter() - t0, **info))


def step_of(key: str) -> ModelStep:
    return model_step(key, MODEL_STEPS)


def build_model(key: str, data: ExperimentSource, *, priors: dict | None = None):
    """The model of step `key`, on the sufficient statistics of `data` (an
    `ExperimentData` or a `bayes_ab.aggregate.AggregatedExperiment`)."""
    step = step_of(key)
    cls = step.model
    stats = data.stats_for(cls.stats_type, **step.stats_kwargs)
    _require_identified(step.key, stats)
    if issubclass(cls, ArmComparison):
        return cls(stats, priors=priors, name=step.key)
    return cls(stats, priors=priors)


def _require_identified(key: str, stats) -> None:
    """A `DataError` when the data hold nothing on one side of a model's comparison, so
    that its posterior there would be the prior alone: the CS vs OTHER models need help
    flags of both channels, the IV model first flags of both channels and in both arms."""
    from bayes_ab.constants import ARMS, CHANNELS
    from bayes_ab.errors import DataError

    if key in ("help_completion", "time_to_completion"):
        per_channel = np.asarray(stats.flags, dtype=float).reshape(len(CHANNELS), -1).sum(1)
        what, sides, counts = "help flags", CHANNELS, per_channel
    elif key == "causal_cs_effect":
        counts3 = np.asarray(stats.counts, dtype=float)  # arm x channel x outcome
        for what, sides, counts in (("first help flags", CHANNELS, counts3.sum(axis=(0, 2))),
                                    ("first help flags", ARMS, counts3.sum(axis=(1, 2)))):
            if (counts == 0).any():
                break
    else:
        return
    missing = [side for side, n in zip(sides, counts, strict=True) if n == 0]
    if missing:
        have = ", ".join(f"{side} {int(n)}" for side, n in zip(sides, counts, strict=True))
        raise DataError(
            f"no {what} in {' or '.join(missing)} ({have}): comparing "
            f"{' with '.join(sides)} needs some on both sides, else the answer would be the "
            "prior alone")


def _arm_block(summary, test_result):
    """The model's ARM_COMPARISON result with its frequentist cross-check."""
    return replace(summary, frequentist=test_result)


def _counts_of(data: ExperimentSource, column: str):
    from bayes_ab.models.beta_binomial import BinomialCounts

    return {arm: BinomialCounts(successes=s, trials=n)
            for arm, (s, n) in data.arm_counts(column).items()}


def _survival_frame(data: ExperimentData):
    """One row per help flag (channel, task, duration, event) of the pandas loader."""
    eps = data.help_episodes
    return eps.assign(duration=eps["minutes"].clip(lower=1e-6), event=(~eps["censored"]).astype(int))


def frequentist_checks(data: ExperimentSource, *, design_test_share: float) -> dict[str, Any]:
    """Every classical test of the run, as result objects keyed by question."""
    from bayes_ab.stats import frequentist as fq

    out: dict[str, Any] = {}
    out["srm"] = fq.srm_check(data.n_in("Test"), data.n_in("Control"),
                              expected_test_share=design_test_share)
    tests = {}
    for key, column in (("conversion", "converted"), ("cs_engagement", "any_cs")):
        counts = _counts_of(data, column)
        tests[key] = fq.two_proportion_test(counts["Control"], counts["Test"], metric=key)
    out.update(fq.holm_adjust_tests(tests))
    by_k = data.converted_by_completions()
    if (by_k["count"] > 0).sum() >= 2:
        out["completions_trend"] = fq.cochran_armitage_trend(by_k["sum"].to_numpy(), by_k["count"].to_numpy())
    if not data.rows_in_memory:
        # The engine's grouped follow-up times (one row per channel x task x minutes x
        # event, with its count n): the log-rank test from the counts, never one row per
        # flag; the per-flag rows are rebuilt only for Cox, up to COX_MAX_FLAGS.
        times = data.survival_times
        grouped = times.assign(duration=times["minutes"].clip(lower=1e-6))
        n_events = int((grouped["event"] * grouped["n"]).sum())
        if grouped["channel"].nunique() != 2 or n_events == 0:
            return out
        out["logrank"] = fq.logrank_by_group(grouped, group="channel", weight="n")
        if data.n_help_flags > COX_MAX_FLAGS:
            out["cox_skipped"] = (
                f"Cox regression skipped: {data.n_help_flags} help flags is over "
                f"{COX_MAX_FLAGS} (engine duckdb); the log-rank test and the Bayesian "
                "survival model stand")
            return out
        surv = data.survival_frame()
    else:
        surv = _survival_frame(data)
        if surv["channel"].nunique() != 2 or surv["event"].sum() == 0:
            return out
        out["logrank"] = fq.logrank_by_group(surv, group="channel")
    try:
        out["cox"] = fq.cox_by_group(surv, group="channel", reference="OTHER", strata=["task"])
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # convergence trouble
        out["cox_error"] = str(exc)
    return out


def _joint_tables(data: ExperimentSource) -> dict[str, np.ndarray]:
    """Each arm's customers by converted (rows 0/1) x CS-engaged (columns 0/1)."""
    df = data.customers
    out = {}
    for arm in ("Control", "Test"):
        sel = df[df["cohort"] == arm]
        table = np.zeros((2, 2))
        for conv in (0, 1):
            for cs in (0, 1):
                hit = (sel["converted"].astype(bool) == bool(conv)) & (
                    sel["any_cs"].astype(bool) == bool(cs))
                table[conv, cs] = float(sel.loc[hit, "n"].sum())
        out[arm] = table
    return out


def _decision(idata, *, data: ExperimentData, options: AnalyzeOptions):
    """The results.json ``decision`` block: the expected-loss rule on the conversion
    model's draws, "keep testing" sized by the pre-posterior search on the conversion
    counts (the same answer as ``compare`` for the same counts and seed), and
    ``cs_cost``: conversion gained against CS engagement added (``decision.cs_cost_tradeoff``)."""
    from bayes_ab.stats import decision as dc
    from bayes_ab.models.arm_comparison import ArmComparison
    from bayes_ab.models.beta_binomial import BetaPrior

    post = idata.posterior
    rate = post["rate"] if "rate" in post else post[list(post.data_vars)[0]]
    control = np.asarray(rate.sel(arm="Control")).reshape(-1)
    test = np.asarray(rate.sel(arm="Test")).reshape(-1)
    kwargs = {}
    if options.threshold_of_caring is not None:
        kwargs["threshold_of_caring"] = options.threshold_of_caring
    if options.revenue_per_conversion is not None:
        kwargs["business_value"] = dc.BusinessValue(
            value_per_unit=options.revenue_per_conversion, customers=float(data.n_customers),
            label="revenue per conversion",
        )
    config = dc.DecisionConfig(**kwargs)
    counts = _counts_of(data, "converted")
    prior = ArmComparison.default_priors["rate"]
    decision = dc.decide_from_draws(
        control, test, metric="conversion", config=config, n_customers=data.n_customers,
        counts=(counts["Control"], counts["Test"]),
        prior=BetaPrior(float(prior["alpha"]), float(prior["beta"])),
        seed=options.sampler.seed,
    )
    try:
        tables = _joint_tables(data)
        cs_cost = dc.cs_cost_tradeoff(
            tables["Control"], tables["Test"],
            revenue_per_conversion=options.revenue_per_conversion,
            cost_per_cs_contact=options.cost_per_cs_contact, seed=options.sampler.seed)
    except (KeyError, ValueError) as exc:  # no CS column / an empty arm: the rest stands
        cs_cost = {"error": str(exc)}
    return replace(decision, cs_cost=cs_cost)


def _load(data_dir, *, options: AnalyzeOptions, steps: _Steps):
    """(data, the DatabaseSource or None, the engine name): the files or tables, loaded
    (pandas) or aggregated (duckdb, or in the database of ``--source``)."""
    from bayes_ab.aggregate.source import DatabaseSource
    from bayes_ab.data.load import load_experiment

    source = data_dir if isinstance(data_dir, DatabaseSource) else None
    engine = source.kind if source else resolve_engine(data_dir, options.engine)
    if source is not None:  # tables in a database: the engine runs there (--source)
        from bayes_ab.aggregate.source import aggregate_source

        steps.start("load", f"aggregating the tables of {source.display} ({engine})")
        data = aggregate_source(source, design_test_share=options.design_test_share,
                                memory_limit=options.engine_memory)
    elif engine == "duckdb":
        from bayes_ab.aggregate import aggregate_experiment

        steps.start("load", "aggregating the files (DuckDB engine)")
        data = aggregate_experiment(data_dir, design_test_share=options.design_test_share,
                                    memory_limit=options.engine_memory)
    else:
        steps.start("load", "loading data")
        data = load_experiment(data_dir, design_test_share=options.design_test_share)
    steps.end("load")
    return data, source, engine


@dataclass
class _Models:
    """What the model stage made, by model key (`_fit_and_save`)."""

    summaries: dict[str, dict | None] = field(default_factory=dict)
    diagnostics: list = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)
    idata_paths: dict[str, Path] = field(default_factory=dict)
    fitted: dict[str, Any] = field(default_factory=dict)
    #: the background task of each fitted model (`_submit_model`) and its gate
    tasks: dict[str, Any] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)


def _fit_and_save(data, *, out: Path, options: AnalyzeOptions, steps: _Steps, timings: dict,
                  findings: list[Finding], background: Background) -> _Models:
    """Build and fit every model of MODEL_STEPS; each fitted model's diagnostics here, its
    summary, netCDF and figures in ``background`` (a forked child, while the next model
    samples). A model that cannot be built or fitted becomes an error finding (its summary
    None). The summaries are in ``models`` once `_finish_models` has run."""
    models = _Models()
    jobs: dict[str, tuple] = {}
    build_errors: dict[str, Exception] = {}
    # posterior predictive draws feed the PPC figure, drawn only with --figures all
    sampler = _effective_sampler(options)
    for offset, step in enumerate(MODEL_STEPS):
        try:
            jobs[step.key] = (build_model(step.key, data), sampler.with_seed_offset(offset))
        except (BayesAbError, ValueError) as exc:
            build_errors[step.key] = exc
    for key, exc in build_errors.items():
        steps.start(key, step_of(key).label, message=f"model: {step_of(key).label}", kind="model")
    t = time.perf_counter()
    # Each model's progress line starts when its fit starts (with --workers > 1 the sampled
    # ones start together) and ends once it is summarised, saved and drawn.

    def on_fitted(key: str, outcome) -> None:
        t = time.perf_counter()
        if outcome.error is None:
            models.tasks[key] = _submit_model(step_of(key), outcome, jobs[key][1], models,
                                              out=out, options=options, timings=timings,
                                              background=background)
        timings[f"model_{key}"] = outcome.seconds + time.perf_counter() - t

    outcomes = fit_models(jobs, workers=options.workers, on_start=lambda key: steps.start(
        key, step_of(key).label, message=f"model: {step_of(key).label}", kind="model"),
        on_done=on_fitted, extras=False)
    timings["fit_models"] = time.perf_counter() - t
    for step in MODEL_STEPS:
        outcome = outcomes.get(step.key)
        exc = build_errors.get(step.key) or (outcome.error if outcome is not None else None)
        if exc is None:
            continue
        models.summaries[step.key] = None
        findings.append(Finding(
            check=f"model_{step.key}", severity="error", count=1,
            message=f"The {step.label} model could not be estimated on this data: {exc}",
        ))
        timings.setdefault(f"model_{step.key}", 0.0)
        steps.end(step.key, "failed", detail=str(exc))
    return models


def _effective_sampler(options: AnalyzeOptions) -> SamplerConfig:
    """The sampler settings the models run with: posterior predictive draws only where
    the PPC figure uses them (``--figures all``)."""
    return replace(options.sampler, posterior_predictive=bool(
        options.sampler.posterior_predictive and options.figures and options.figure_set == "all"))


def _submit_model(step, outcome, config: SamplerConfig, models: _Models, *, out: Path,
                  options: AnalyzeOptions, timings: dict, background: Background):
    """One fitted model: its diagnostics here (the gate), then its secondary fits
    (`BayesModel.fit_extras`: the completions model's two other shapes and their LOO
    comparison), summary, idata file and figures as a background task."""
    model, idata = outcome.model, outcome.idata
    models.fitted[step.key] = idata
    for part in ("compile", "sample"):
        if f"{part}_seconds" in idata.attrs:
            timings[f"{part}_{step.key}"] = float(idata.attrs[f"{part}_seconds"])
    diag = model.diagnostics(idata)
    models.diagnostics.append(diag)
    models.passed[step.key] = diag.passed
    kinds = None
    if options.figures:
        kinds = FIGURE_KINDS if options.figure_set == "all" else (
            REPORT_FIGURE_KINDS + (() if diag.passed else GATE_FIGURE_KINDS))
    if background.forked:
        _import_for_children(figures=kinds is not None)
    return background.submit(f"model {step.key}", _summarize_save_draw, model, idata,
                             config=config, key=step.key, out=out, kinds=kinds)


def _import_for_children(*, figures: bool) -> None:
    """Import here, once, what every model's background child imports (the netCDF writer,
    ArviZ's matplotlib plots): a forked child inherits it, instead of seven children
    importing it each (the netCDF library alone: 0.2 s per child)."""
    import netCDF4  # noqa: F401

    if figures:
        import arviz.plots.backends.matplotlib  # noqa: F401
        import matplotlib.backends.backend_agg  # noqa: F401 - savefig's PNG canvas
        from PIL import Image

        Image.init()  # PIL's image plugins, loaded on the first PNG saved


def _summarize_save_draw(model, idata, *, config: SamplerConfig, key: str, out: Path,
                         kinds) -> tuple:
    """(summary, idata path, {figure name: path}, idata attrs) of one fitted model, after
    its `fit_extras` (a background task: the attrs they add go back to the parent's copy)."""
    idata = model.fit_extras(idata, config)
    summary = model.summarize(idata)
    path = model.save(idata, out / "idata" / f"{key}.nc")
    figures: dict[str, Path] = {}
    if kinds is not None:
        with figure_kinds(kinds):
            drawn = model.figures(idata)
        figures = save_figures({f"{key}_{kind}": fig for kind, fig in drawn.items()},
                               out / "figures")
    return summary, path, figures, dict(idata.attrs)


def _finish_models(models: _Models, *, steps: _Steps, timings: dict) -> None:
    """Wait for each model's background task and file its summary, netCDF and figures;
    a task's error is raised here, as it was when these ran in this process."""
    for step in MODEL_STEPS:
        task = models.tasks.get(step.key)
        if task is None:
            continue
        summary, path, figures, attrs = task.result()
        timings[f"background_{step.key}"] = task.seconds
        timings[f"cpu: background_{step.key}"] = task.cpu_seconds
        models.fitted[step.key].attrs.update(attrs)  # what fit_extras added in the child
        models.summaries[step.key] = summary
        models.idata_paths[step.key] = path
        models.figures.update(figures)
        idata = models.fitted[step.key]
        steps.end(step.key, compile_seconds=float(idata.attrs.get("compile_seconds", 0.0)),
                  sample_seconds=float(idata.attrs.get("sample_seconds", 0.0)),
                  exact=bool(idata.attrs.get("exact", False)),
                  detail="" if models.passed[step.key] else "failed the convergence gate")


def _model_results(data, *, freq: dict, models: _Models, findings: list[Finding],
                   options: AnalyzeOptions) -> dict:
    """The results dict from the models: blocks, diagnostics (a failed gate is an error
    finding), the decision and the Bayesian/frequentist agreement sentences."""
    from bayes_ab.inference.diagnostics import combine
    from bayes_ab.stats.frequentist import bayes_frequentist_agreement

    results = _assemble(data, freq=freq, summaries=models.summaries, findings=findings,
                        options=options)
    results["diagnostics"] = combine(models.diagnostics)
    for diag in models.diagnostics:
        if not diag.passed:
            results["data_quality"].append(Finding(
                check=f"diagnostics_{diag.name}", severity="error", count=1,
                message=f"The {diag.name} posterior failed the convergence gate ("
                        + "; ".join(diag.problems()) + "): do not act on it without a rerun "
                        "with more draws.",
            ).to_dict())

    if "conversion" in models.fitted:
        results["decision"] = _decision(models.fitted["conversion"], data=data, options=options)
    else:
        results["decision"] = None

    results["agreement"] = {}
    for key in ("conversion", "cs_engagement"):
        block = results.get(key)
        if block:
            agree = bayes_frequentist_agreement(
                prob_test_better=block["prob_test_better"],
                p_value=block["frequentist"]["p_value"],
                p_value_holm=block["frequentist"]["p_value_holm"],
            )
            results["agreement"][key] = agree.sentence
    return results


def analyze(
    data_dir: str | Path | DatabaseSource,
    *,
    out_dir: str | Path,
    options: AnalyzeOptions = AnalyzeOptions(),
    progress: Progress | None = None,
    on_step: StepCallback | None = None,
) -> AnalysisRun:
    """Run the whole analysis and write everything into `out_dir` (which must exist).

    ``progress(msg)`` gets one line per stage; ``on_step(StepEvent)`` gets each stage's
    start and end (one per model, with its compile and sampling seconds).

    ArviZ's statistics run on numpy here: its numba versions are compiled in every
    process on first use (0.3 s for r-hat and ESS) and are no faster on a few thousand
    draws (0.025 vs 0.023 s per r-hat + two ESS); the setting is restored on return."""
    with _ArvizOnNumpy() as arviz_on_numpy:
        return _analyze(data_dir, Path(out_dir), options, _Steps(progress, on_step),
                        arviz_on_numpy)


class _ArvizOnNumpy:
    """ArviZ's numba paths off from `start` (which imports ArviZ) to the end of the block."""

    def __init__(self):
        self.saved: bool | None = None

    def start(self) -> None:
        import arviz as az

        if self.saved is None:
            self.saved, az.Numba.numba_flag = az.Numba.numba_flag, False

    def __enter__(self) -> _ArvizOnNumpy:
        return self

    def __exit__(self, *exc) -> None:
        if self.saved is not None:
            import arviz as az

            az.Numba.numba_flag = self.saved


def _analyze(data_dir, out: Path, options: AnalyzeOptions, steps: _Steps,
             arviz_on_numpy: _ArvizOnNumpy) -> AnalysisRun:
    """`analyze`, with ArviZ's numba paths off once the background checks have started
    (they do not use ArviZ: forked before it is imported, they run during its import)."""
    timings: dict[str, float] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    from bayes_ab.data.load import ReadMemo

    # The loader and the forensics read the same files: parsed once (the forensics' child
    # inherits the parsed tables), then let go once the forensics have started.
    reads = ReadMemo(enabled=options.forensics)
    with reads.active():
        data, source, engine = _load(data_dir, options=options, steps=steps)
    timings["load"] = time.perf_counter() - t0
    for stage, seconds in getattr(data, "timings", {}).items():
        if stage != "total":  # where the engine's time went (benchmarks, docs/SCALE.md)
            timings[f"load: {stage}"] = seconds
    _require_both_arms(data)
    findings: list[Finding] = list(data.findings)

    # The stages that feed no fit run beside the fits (bayes_ab.workflows.background), but
    # never in a fork of a process that holds a database or Spark session: a child's
    # garbage collector could close the parent's connection (psycopg, py4j).
    with Background(enabled=options.background and source is None) as background:
        steps.start("frequentist", "frequentist cross-checks")
        freq_task = background.submit("frequentist cross-checks", frequentist_checks, data,
                                      design_test_share=options.design_test_share)
        with reads.active():
            forensics, forensics_task = _start_forensics(data, source, data_dir,
                                                         options=options, steps=steps,
                                                         background=background)
        reads.clear()
        arviz_on_numpy.start()  # ArviZ's import (2.7 s) while those two children work
        models = _fit_and_save(data, out=out, options=options, steps=steps, timings=timings,
                               findings=findings, background=background)
        fitted = models.fitted
        sensitivity = None
        if options.prior_sensitivity != "none":
            t = time.perf_counter()
            sensitivity = _prior_sensitivity(data, fitted, options=options, steps=steps)
            timings["prior_sensitivity"] = time.perf_counter() - t
        steps.start("ratios_segments", "ratio metrics and segments")
        quality: list[dict] = []  # the findings of both, as results.json dicts
        ratios = ratio_metrics(data, seed=options.sampler.seed, findings=quality)
        segments = segment_blocks(data, options=options, findings=quality)
        steps.end("ratios_segments")

        t = time.perf_counter()
        freq = freq_task.result()
        timings["frequentist"] = freq_task.seconds
        timings["cpu: frequentist"] = freq_task.cpu_seconds
        steps.end("frequentist")
        if "cox_skipped" in freq:
            findings.append(Finding("cox_skipped", "info", 1, freq["cox_skipped"]))
        _finish_models(models, steps=steps, timings=timings)
        if forensics_task is not None:
            forensics = forensics_task.result()
            timings["forensics"] = forensics_task.seconds
            timings["cpu: forensics"] = forensics_task.cpu_seconds
            steps.end("forensics")
        timings["background_wait"] = time.perf_counter() - t

    results = _model_results(data, freq=freq, models=models, findings=findings,
                             options=options)
    if sensitivity is not None:
        results["prior_sensitivity"] = sensitivity
    results["ratio_metrics"] = ratios
    results["segments"] = segments
    results["data_quality"].extend(quality)
    if forensics is not None:
        results["forensics"], note = forensics
        if note is not None:
            results["data_quality"].append(note.to_dict())
    results["input"]["engine"] = engine
    # CPU seconds: this process (all its threads: the sampler's too) from here on, and
    # each background child on its own clock ("cpu: background_<model>", ...)
    timings["cpu: this process"] = time.process_time() - c0
    timings["total"] = time.perf_counter() - t0
    results["timing_seconds"] = {k: round(v, 3) for k, v in timings.items()}
    results["sampler"] = _effective_sampler(options).to_dict()
    # The edge: typed result blocks become the plain results.json dicts here, once.
    results = to_jsonable(results)
    return AnalysisRun(results=results, figures=models.figures, idata_paths=models.idata_paths,
                       timings=timings, idata=fitted)


def _require_both_arms(data) -> None:
    """Every answer of `analyze` compares Test with Control (the lifts, the decision, the
    instrumental variable; the help-channel models are read beside that comparison), so an
    arm without customers leaves nothing to analyze: one clear `DataError` (exit 2)."""
    from bayes_ab.errors import DataError

    n_test, n_control = data.n_in("Test"), data.n_in("Control")
    if n_test and n_control:
        return
    empty = " and ".join(a for a, n in (("Test", n_test), ("Control", n_control)) if not n)
    raise DataError(
        f"no customer in {empty} (Test {n_test}, Control {n_control} randomized customers "
        "after cleaning): an A/B analysis needs at least one customer in each arm, so "
        "nothing can be compared; `bayes-ab validate` shows the split and what was dropped",
        file="test_cohorts")


def _prior_sensitivity(data: ExperimentData, fitted: dict, *, options: AnalyzeOptions,
                       steps: _Steps) -> dict:
    """Each fitted model refitted under weaker and stronger priors (bayes_ab.workflows.sensitivity):
    does any conclusion change? Two chains of the run's draws keep the cost down."""
    from dataclasses import replace

    from bayes_ab.workflows.sensitivity import prior_sensitivity

    keys = [s.key for s in MODEL_STEPS if s.key in fitted]
    if options.prior_sensitivity == "decision":
        keys = [k for k in keys if k in ("conversion", "cs_engagement")]
    config = replace(options.sampler, chains=min(2, options.sampler.chains))
    out: dict[str, Any] = {}
    for offset, key in enumerate(keys):
        steps.start(f"sensitivity_{key}", f"prior sensitivity: {key}")
        model = build_model(key, data)
        kwargs = {"name": key} if step_of(key).cls == "ArmComparison" else None
        try:
            out[key] = prior_sensitivity(type(model), model.stats, model_kwargs=kwargs,
                                         config=config.with_seed_offset(100 + offset))
        except (BayesAbError, ValueError) as exc:
            out[key] = {"model": key, "error": str(exc), "conclusion_changes": None}
            steps.end(f"sensitivity_{key}", "failed", detail=str(exc))
            continue
        steps.end(f"sensitivity_{key}")
    return out


def _start_forensics(data, source, data_dir, *, options: AnalyzeOptions, steps: _Steps,
                     background: Background):
    """((forensics block, info finding) or None, None) when forensics is off or skipped;
    (None, its background task) when it runs (the task's result is the same pair)."""
    if not options.forensics:
        return None, None
    if not data.rows_in_memory and data.n_customers > FORENSICS_MAX_CUSTOMERS:
        note = (f"forensics skipped: {data.n_customers} customers is over "
                f"{FORENSICS_MAX_CUSTOMERS} with the duckdb engine (it reads the raw "
                "files with pandas); run `bayes-ab forensics` on a sample")
    elif source is not None and getattr(source, "folder", None) is None:
        note = ("forensics skipped: it reads the raw files, and the data came from "
                f"database tables ({source.display}); run `bayes-ab forensics` on an "
                "export of them")
    else:
        steps.start("forensics", "forensics")
        folder = source.folder if source else data_dir
        return None, background.submit("forensics", lambda: (_forensics(folder), None))
    block = {"verdict": "inconclusive", "evidence": [], "error": note}
    return (block, Finding("forensics_skipped", "info", 1, note)), None


def _forensics(data_dir) -> dict | None:
    try:
        from bayes_ab.forensics import run_forensics
    except ImportError:
        return None
    try:
        return run_forensics(data_dir).to_dict()
    except (BayesAbError, ValueError, KeyError) as exc:
        return {"verdict": "inconclusive", "evidence": [], "error": str(exc)}


def _assemble(data: ExperimentData, *, freq: dict, summaries: dict, findings: list[Finding],
              options: AnalyzeOptions) -> dict:
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "input": {
            "n_customers": data.n_customers,
            "n_test": data.n_in("Test"),
            "n_control": data.n_in("Control"),
            "dropped": dict(data.dropped),
            "source": str(data.source),
            "n_help_flags": _n_help_flags(data),
            "n_task_attempts": int(data.n_task_attempts),
            "observation_end": data.observation_end,
        },
        "srm": _srm_block(freq["srm"]),
    }
    for key in ("conversion", "cs_engagement"):
        results[key] = _arm_block(summaries[key], freq[key]) if summaries.get(key) else None
    if results["cs_engagement"] is not None:
        results["cs_engagement"] = replace(results["cs_engagement"],
                                           among_flagged=_engagement_among_flagged(data))

    ttc = summaries.get("time_to_completion")
    if ttc:
        ttc = replace(ttc, frequentist={"logrank": freq.get("logrank"), "cox": freq.get("cox")})
    results["help_channels"] = HelpChannels(completion=summaries.get("help_completion") or None,
                                            time_to_completion=ttc or None,
                                            iv=summaries.get("causal_cs_effect") or None)

    cc = summaries.get("completions_conversion")
    if cc is not None and "completions_trend" in freq:
        cc = replace(cc, frequentist=freq["completions_trend"])
    results["completions_conversion"] = cc
    results["time_and_experience"] = summaries.get("time_and_experience")
    if results["srm"]["mismatch"]:
        findings.append(Finding("sample_ratio_mismatch_test", "warning", 1, freq["srm"].sentence()))
    results["data_quality"] = _unique_findings(findings)
    return results


def _srm_block(srm) -> SrmCheck:
    """The schema's ``srm`` block plus ``judgeable``: with too few customers (fewer than
    5 expected in an arm) the split cannot be judged and is never called a mismatch."""
    from bayes_ab.data.validate import srm_judgeable

    judgeable = srm_judgeable(srm.n_test, srm.n_control, test_share=srm.expected_test_share)
    return SrmCheck(expected_test_share=srm.expected_test_share,
                    observed_test_share=srm.observed_test_share, p_value=srm.p_value,
                    mismatch=srm.mismatch if judgeable else False, judgeable=judgeable)


def _unique_findings(findings: list[Finding]) -> list[dict]:
    seen, out = set(), []
    for f in findings:
        key = (f.check, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f.to_dict())
    return out


def _n_help_flags(data) -> int:
    return int(data.n_help_flags)


def _engagement_among_flagged(data: ExperimentSource) -> dict:
    """CS engagement among customers flagged at least once (secondary definition)."""
    from bayes_ab.models.beta_binomial import BetaPrior, BinomialCounts, posterior

    by_arm = data.arm_counts("any_cs", among_flagged=True)
    out = {}
    for arm in ("Control", "Test"):
        successes, trials = by_arm[arm]
        # No flagged customer in an arm (e.g. no help rows at all): no posterior, null.
        out[arm.lower()] = (
            posterior(BinomialCounts(successes=successes, trials=trials),
                      prior=BetaPrior()).hdi().to_dict() if trials else None
        )
        out[f"n_flagged_{arm.lower()}"] = int(trials)
    return out


#: Ratio metrics of the experiment (issue 9): name -> (numerator, denominator, higher_is_better,
#: definition). Both are per randomized customer, so the delta method sees their covariance.
RATIO_METRICS = {
    "cs_contacts_per_flagged_customer": (
        "n_cs_flags", "flagged", True,
        "CS help rows / customers flagged at least once (how much CS help a stuck customer takes)"),
    "help_flags_per_customer": (
        "n_help_flags", "one", False,
        "help flags / all randomized customers (how often customers get stuck; lower is better)"),
    "minutes_per_completed_task": (
        "task_minutes", "n_completed", False,
        "minutes from start to completion summed over completed tasks / completed tasks "
        "(time on task per completion; lower is better)"),
}


def _ratio_columns(data: ExperimentData):
    frame = data.frame
    eps = data.help_episodes
    n_cs = eps.loc[eps["channel"] == "CS"].groupby("customer_id").size()
    durations = frame[[f"task{k}_duration_min" for k in (1, 2, 3)]].fillna(0.0).sum(axis=1)
    return {
        "n_cs_flags": frame["customer_id"].map(n_cs).fillna(0).to_numpy(dtype=float),
        "flagged": (frame["n_help_flags"] > 0).to_numpy(dtype=float),
        "n_help_flags": frame["n_help_flags"].to_numpy(dtype=float),
        "one": np.ones(len(frame)),
        "task_minutes": durations.to_numpy(dtype=float),
        "n_completed": frame["n_completed"].to_numpy(dtype=float),
    }


def ratio_metrics(data: ExperimentSource, *, seed: int, findings: list | None = None) -> dict:
    """Bayesian ratio metrics (exact posterior draws on sufficient statistics) beside the
    delta-method test, each with its definition; null when a denominator is all zero in an
    arm or an arm is too small, with an error finding (a dict) appended to `findings`."""
    from bayes_ab.stats.frequentist import RatioStatistic
    from bayes_ab.stats.ratio import compare_ratio

    if not data.rows_in_memory:  # the engine's per-arm sums (bayes_ab.aggregate.engine.RATIO_PAIRS)
        by_pair = data.ratio_stats
    else:
        cols = _ratio_columns(data)
        arm = data.frame["cohort"].astype(str).to_numpy()
        by_pair = {
            (num, den): {a: RatioStatistic.from_arrays(cols[num][arm == a], cols[den][arm == a])
                         for a in ("Control", "Test")}
            for num, den, _h, _d in RATIO_METRICS.values()}
    out: dict[str, Any] = {}
    for i, (name, (num, den, higher, definition)) in enumerate(RATIO_METRICS.items()):
        stats = by_pair[(num, den)]
        zero = [a for a in ("Control", "Test") if stats[a].sum_x <= 0]
        why = None
        if zero:
            why = (f"its denominator ({definition.split(' / ')[1].split(' (')[0]}) is zero in "
                   f"{' and '.join(zero)}")
        elif max(abs(stats[a].sum_y) for a in stats) == 0:
            why = (f"its numerator ({definition.split(' / ')[0]}) is zero for every customer "
                   "of both arms: there is no variation to compare")
        else:
            try:
                block = compare_ratio(stats["Control"], stats["Test"], metric=name,
                                      higher_is_better=higher, seed=seed + i).to_dict()
            except (BayesAbError, ValueError) as exc:
                why = str(exc)
        if why is not None:
            out[name] = None
            if findings is not None:
                findings.append(Finding(
                    f"ratio_{name}", "error", 1,
                    f"The ratio metric {name} could not be estimated on this data: {why}.",
                ).to_dict())
            continue
        block["definition"] = definition
        out[name] = block
    return out


def _segment_columns(frame) -> dict[str, np.ndarray]:
    """Segments from the cohort file's extra columns; `joined_at` becomes a 6-hour block."""
    import pandas as pd

    from bayes_ab.data.schema import FRAME_COLUMNS

    out = {}
    for col in frame.columns:
        if col in FRAME_COLUMNS:
            continue
        values = frame[col]
        if col == "joined_at":
            hours = pd.to_datetime(values, utc=True, errors="coerce").dt.hour
            if hours.notna().mean() < 0.99:
                continue
            labels = np.array(["00-06 UTC", "06-12 UTC", "12-18 UTC", "18-24 UTC"])
            out["join_period"] = labels[(hours.to_numpy() // 6).astype(int)]
            continue
        if values.isna().any() or not 2 <= values.nunique() <= 50:
            continue
        out[col] = values.astype(str).to_numpy()
    return out


def segment_blocks(data: ExperimentSource, *, options: AnalyzeOptions, findings: list) -> dict:
    """Conversion lift by segment, partially pooled (normal approximation + exact quadrature
    over the between-segment sd: no sampler), with a sample-ratio check per segment."""
    from bayes_ab.workflows.segments import SegmentCounts, segment_effects

    if not data.rows_in_memory:
        columns = {col: ("agg", g) for col, g in data.segments.items()}
    else:
        frame = data.frame
        groups = frame["cohort"].astype(str).to_numpy()
        outcomes = frame["converted"].to_numpy(dtype=int)
        columns = {col: ("frame", labels) for col, labels in _segment_columns(frame).items()}
    out: dict[str, Any] = {}
    for col, (kind, labels) in columns.items():
        try:
            if kind == "agg":
                counts = _segment_counts_from_table(labels, column=col)
            else:
                counts = SegmentCounts.from_arrays(groups, outcomes, labels, control="Control",
                                                   test="Test", column=col)
            out[col] = segment_effects(counts, method="normal", config=options.sampler,
                                       expected_test_share=options.design_test_share)
        except (BayesAbError, ValueError) as exc:
            findings.append(Finding(f"segments_{col}", "info", 1,
                                    f"segment column '{col}' not analysed: {exc}").to_dict())
    return out


def _segment_counts_from_table(table, *, column: str):
    """`SegmentCounts` from the engine's (label, cohort, successes, trials) table, with
    the checks of `SegmentCounts.from_arrays`."""
    from bayes_ab.workflows.segments import SegmentCounts, checked_segment_names

    names = checked_segment_names((str(v) for v in table["label"]), column=column)
    cell = {(str(r.label), r.cohort): (int(r.successes), int(r.trials))
            for r in table.itertuples(index=False)}

    def agg(arm: str, i: int) -> tuple[int, ...]:
        return tuple(cell.get((name, arm), (0, 0))[i] for name in names)

    return SegmentCounts(segments=tuple(names), control="Control", test="Test",
                         successes_control=agg("Control", 0), trials_control=agg("Control", 1),
                         successes_test=agg("Test", 0), trials_test=agg("Test", 1), column=column)
