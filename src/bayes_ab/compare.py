"""`bayes-ab compare`: any plain A/B export, each arm against control.

Input: one CSV (or CSV.gz) or Parquet file with a group column and a binary outcome
column (0/1, 1.0/0.0, true/false, t/f, yes/no, y/n, any case). Two or more arms.

What comes out (``compare_file`` returns the compare.json dict)::

    schema_version  1
    input           {file, format, group_col, outcome_col, n_rows, control_note,
                     counts: {arm: {successes, trials}}}
    control         name of the control arm
    arms            {arm: ARM_COMPARISON}   one per non-control arm (RESULTS_SCHEMA.md),
                                            plus `decision` (that arm against control)
    decision        the overall decision (below), with `arm` = the arm it is about
    diagnostics     the results.json diagnostics block of the sampled models

Optional blocks (docs/BEYOND.md), each keyed by the non-control arm where it is per arm:

    ratio_metric        {arm: ratio comparison}     with ``ratio="NUM/DEN"`` (bayes_ab.ratio)
    segments            {arm: segment block}        with ``segment_col`` (bayes_ab.segments)
    prior_from_history  predictive prior + {arms: {arm: shrinkage}}   with ``prior_from``
                                                    (bayes_ab.meta_prior)

The Bayesian part is one `ArmComparison` (a Binomial on counts, Beta(1, 1) priors, sampled;
the conjugate Beta posterior is its closed-form check). The frequentist part is a
two-proportion z-test (Fisher's exact test for small counts) with Newcombe's CI per arm,
Holm-adjusted across the non-control arms. The decision per arm uses the exact Beta
posterior losses (`bayes_ab.decision.decide_from_counts`).

Overall decision with several arms: if some arms are safe to ship (``double_down``), the one
of them with the smallest expected loss of shipping; else if every arm says ``pivot``, pivot
(keep control), about the arm most likely to beat control; else ``keep_testing``, about the
undecided arm most likely to beat control.

Default control: an arm called ``control`` (any case), else ``A``, else the first arm in
alphabetical order; ``input.control_note`` says which rule chose it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bayes_ab.constants import SCHEMA_VERSION
from bayes_ab.errors import DataError
from bayes_ab.fit import SamplerConfig

if TYPE_CHECKING:  # pragma: no cover
    from bayes_ab.models.arm_comparison import ArmComparison, ArmCounts

__all__ = ["CompareRun", "compare_file", "parse_outcome", "read_groups", "run_compare",
           "write_compare"]

_TRUE = ("1", "1.0", "true", "t", "yes", "y")
_FALSE = ("0", "0.0", "false", "f", "no", "n")
_OUTCOME = {**{v: 1 for v in _TRUE}, **{v: 0 for v in _FALSE}}
_SHOWN = 20


@dataclass(frozen=True)
class GroupData:
    """The parsed export: one group label and one 0/1 outcome per row."""

    file: str
    format: str
    group_col: str
    outcome_col: str
    groups: tuple[str, ...]
    outcomes: tuple[int, ...] = field(repr=False)

    @property
    def n_rows(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class CompareRun:
    """Everything a compare run made: the compare.json dict and the posterior behind it."""

    results: dict
    idata: Any = field(repr=False)
    model: Any = field(repr=False)


def _normalise(name: str) -> str:
    # The same rule as bayes_ab.data.load for column names, so "Converted?" style headers
    # given on the command line match what the reader made of them.
    return re.sub(r"[\s\-]+", "_", str(name).replace("\ufeff", "").strip().lower())


def _column(table, name: str, *, option: str) -> str:
    col = _normalise(name)
    have = [c for c in table.data.columns if not c.startswith("_line")]
    if col not in table.data.columns:
        raise DataError(
            f"no column '{name}' ({option}); the file has: {', '.join(have)}",
            file=table.name, column=name, lines=[1], n_rows=1,
        )
    return col


def parse_outcome(values, lines, *, file: str, column: str) -> np.ndarray:
    """0/1 outcomes from text; a DataError lists the offending values and their lines."""
    text = np.array([str(v).strip().lower() for v in values], dtype=object)
    parsed = np.array([_OUTCOME.get(v, -1) for v in text], dtype=np.int64)
    bad = parsed < 0
    if bad.any():
        shown = list(dict.fromkeys(str(v) for v in np.asarray(values, dtype=object)[bad]))[:5]
        raise DataError(
            "the outcome must be binary (0/1, true/false or yes/no); found "
            + ", ".join(repr(v) for v in shown),
            file=file, column=column, lines=np.asarray(lines)[bad][:_SHOWN], n_rows=int(bad.sum()),
        )
    return parsed


def read_groups(path: str | Path, *, group_col: str, outcome_col: str) -> GroupData:
    """Read and check the export: file, columns, blank groups, binary outcomes."""
    from bayes_ab.data.load import LINE, read_table

    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", file=str(path))
    table = read_table(path)
    gcol = _column(table, group_col, option="--group-col")
    ocol = _column(table, outcome_col, option="--outcome-col")
    if gcol == ocol:
        raise DataError("--group-col and --outcome-col name the same column",
                        file=table.name, column=group_col)
    lines = table.data[LINE].to_numpy()
    groups = table.data[gcol].astype(str).str.strip().to_numpy()
    blank = groups == ""
    if blank.any():
        raise DataError("empty group label: every row needs a group", file=table.name,
                        column=group_col, lines=lines[blank][:_SHOWN], n_rows=int(blank.sum()))
    outcomes = parse_outcome(table.data[ocol].to_numpy(), lines, file=table.name,
                             column=outcome_col)
    fmt = "parquet" if path.name.lower().endswith(".parquet") else "csv"
    return GroupData(file=str(path), format=fmt, group_col=group_col, outcome_col=outcome_col,
                     groups=tuple(groups.tolist()), outcomes=tuple(int(x) for x in outcomes))


def choose_control(arms: list[str], control: str | None, *, data: GroupData) -> tuple[str, str]:
    """The control arm and a sentence saying how it was chosen."""
    if control is not None:
        matches = [a for a in arms if a == str(control).strip()]
        if not matches:
            matches = [a for a in arms if a.lower() == str(control).strip().lower()]
        if len(matches) != 1:
            raise DataError(f"--control '{control}' is not one of the arms: {', '.join(arms)}",
                            file=Path(data.file).name, column=data.group_col)
        return matches[0], f"Control arm: '{matches[0]}' (given with --control)."
    for wanted, why in (("control", "named control"), ("a", "named A")):
        found = [a for a in arms if a.lower() == wanted]
        if len(found) == 1:
            return found[0], (f"Control arm: '{found[0]}' ({why}; choose another with "
                              f"--control).")
    first = sorted(arms)[0]
    return first, (f"Control arm: '{first}' (no arm is named control or A, so the first in "
                   f"alphabetical order; choose another with --control).")


def count_arms(data: GroupData, *, control: str | None = None) -> tuple[ArmCounts, str]:
    """Successes and trials per arm, control first, then the others alphabetically."""
    from bayes_ab.models.arm_comparison import ArmCounts

    groups = np.asarray(data.groups, dtype=object)
    outcomes = np.asarray(data.outcomes, dtype=np.int64)
    arms = sorted(set(data.groups))
    if len(arms) < 2:
        raise DataError(
            f"only one arm ('{arms[0]}') in the group column: a comparison needs two or more",
            file=Path(data.file).name, column=data.group_col)
    ctrl, note = choose_control(arms, control, data=data)
    order = [ctrl] + [a for a in arms if a != ctrl]
    successes = [int(outcomes[groups == a].sum()) for a in order]
    trials = [int((groups == a).sum()) for a in order]
    return ArmCounts(arms=tuple(order), successes=tuple(successes), trials=tuple(trials),
                     metric=data.outcome_col), note


def _frequentist(counts: ArmCounts) -> dict[str, dict]:
    from bayes_ab.frequentist import holm_adjust_tests, two_proportion_test
    from bayes_ab.models.beta_binomial import BinomialCounts

    control = BinomialCounts(counts.successes[0], counts.trials[0])
    tests = {
        arm: two_proportion_test(control, BinomialCounts(s, n), metric=counts.metric)
        for arm, s, n in zip(counts.arms[1:], counts.successes[1:], counts.trials[1:], strict=True)
    }
    if len(tests) > 1:  # one family: the non-control arms, each against control
        tests = holm_adjust_tests(tests)
    return {arm: t.to_dict() for arm, t in tests.items()}


def _decisions(counts: ArmCounts, *, threshold: float | None, seed: int) -> dict[str, dict]:
    from bayes_ab.decision import DecisionConfig, decide_from_counts
    from bayes_ab.models.beta_binomial import BinomialCounts

    config = DecisionConfig() if threshold is None else DecisionConfig(threshold_of_caring=threshold)
    control = BinomialCounts(counts.successes[0], counts.trials[0])
    out = {}
    for arm, s, n in zip(counts.arms[1:], counts.successes[1:], counts.trials[1:], strict=True):
        d = decide_from_counts(control, BinomialCounts(s, n), metric=counts.metric,
                               config=config, seed=seed).to_dict()
        out[arm] = {**d, "arm": arm, "control": counts.control}
    return out


def overall_decision(per_arm: dict[str, dict]) -> dict:
    """One decision over several arms (rule in the module docstring)."""
    ship = [d for d in per_arm.values() if d["recommendation"] == "double_down"]
    if ship:
        best = min(ship, key=lambda d: (d["expected_loss"]["double_down"], -d["test_mean"]))
    elif all(d["recommendation"] == "pivot" for d in per_arm.values()):
        best = max(per_arm.values(), key=lambda d: d["prob_test_better"])
    else:
        undecided = [d for d in per_arm.values() if d["recommendation"] == "keep_testing"]
        best = max(undecided, key=lambda d: d["prob_test_better"])
    return dict(best)


def _threshold_check(threshold: float | None) -> None:
    from bayes_ab.errors import OptionError

    if threshold is not None and not (np.isfinite(threshold) and threshold > 0):
        raise OptionError(f"--threshold must be a positive number, got {threshold}")


def _extra_column(path: str | Path, name: str, *, option: str) -> np.ndarray:
    """Another column of the export as stripped text, row-aligned with ``read_groups``
    (which keeps every row or fails), blank values labelled ``(blank)``."""
    from bayes_ab.data.load import read_table

    table = read_table(Path(path))
    col = _column(table, name, option=option)
    values = table.data[col].astype(str).str.strip()
    return values.where(values != "", "(blank)").to_numpy(dtype=object)


def _ratio_blocks(path, spec: str, data: GroupData, counts: ArmCounts, *,
                  lower_is_better: bool, seed: int) -> dict[str, dict]:
    from bayes_ab.ratio import compare_ratio, ratio_by_arm, read_ratio_columns

    num, den, label = read_ratio_columns(path, spec)
    stats_ = ratio_by_arm(data.groups, num, den, counts.arms)
    return {arm: compare_ratio(stats_[counts.control], stats_[arm], metric=label,
                               higher_is_better=not lower_is_better, seed=seed + k,
                               names=(counts.control, arm)).to_dict()
            for k, arm in enumerate(counts.arms[1:])}


def _segment_blocks(path, column: str, data: GroupData, counts: ArmCounts, *, method: str,
                    config: SamplerConfig) -> dict[str, dict]:
    from bayes_ab.segments import SegmentCounts, segment_effects

    segs = _extra_column(path, column, option="--segment-col")
    out = {}
    for k, arm in enumerate(counts.arms[1:]):
        sc = SegmentCounts.from_arrays(data.groups, data.outcomes, segs, control=counts.control,
                                       test=arm, column=column)
        out[arm] = segment_effects(sc, method=method,  # type: ignore[arg-type]
                                   config=config.with_seed_offset(10 + k))
    return out


def _prior_block(prior_from, counts: ArmCounts, *, scale: str, method: str,
                 config: SamplerConfig) -> dict:
    from bayes_ab.meta_prior import (
        fit_meta_prior,
        lift_estimate,
        meta_prior_grid,
        prior_from_history_block,
        read_past_experiments,
    )

    past = read_past_experiments(prior_from, scale=scale)  # type: ignore[arg-type]
    if method == "pymc":
        from dataclasses import replace

        meta = fit_meta_prior(past, config=replace(config.with_seed_offset(20),
                                                   target_accept=max(config.target_accept, 0.95)))
    else:
        meta = meta_prior_grid(past, seed=config.seed)
    today = {arm: lift_estimate(counts.successes[0], counts.trials[0], s, n,
                                scale=scale)  # type: ignore[arg-type]
             for arm, s, n in zip(counts.arms[1:], counts.successes[1:], counts.trials[1:],
                                  strict=True)}
    return prior_from_history_block(meta, today, seed=config.seed, source=str(prior_from))


def _option_check(*, prior_scale: str, prior_method: str, segment_method: str) -> None:
    from bayes_ab.errors import OptionError

    if prior_scale not in ("abs", "rel"):
        raise OptionError(f"--prior-scale must be abs or rel, got {prior_scale!r}")
    if prior_method not in ("pymc", "grid"):
        raise OptionError(f"--prior-method must be pymc or grid, got {prior_method!r}")
    if segment_method not in ("pymc", "normal"):
        raise OptionError(f"--segment-method must be pymc or normal, got {segment_method!r}")


def _as_diagnostics(name: str, d: dict | None):
    from bayes_ab.diagnostics import ModelDiagnostics

    if not d:
        return None
    return ModelDiagnostics(name=name, max_r_hat=d["max_r_hat"], min_ess_bulk=d["min_ess_bulk"],
                            divergences=d["divergences"], n_draws=d.get("n_draws", 0),
                            n_chains=d.get("n_chains", 0))


def run_compare(
    path: str | Path,
    *,
    group_col: str,
    outcome_col: str,
    control: str | None = None,
    config: SamplerConfig = SamplerConfig(),
    threshold: float | None = None,
    ratio: str | None = None,
    ratio_lower_is_better: bool = False,
    segment_col: str | None = None,
    segment_method: str = "pymc",
    prior_from: str | Path | None = None,
    prior_scale: str = "abs",
    prior_method: str = "pymc",
) -> CompareRun:
    """Read, count, sample, test and decide; the compare.json dict plus the posterior.

    ``ratio`` ("NUM_COL/DEN_COL"), ``segment_col`` and ``prior_from`` (a CSV of past
    experiments: experiment, lift, se) add the optional blocks of the module docstring."""
    from bayes_ab.diagnostics import combine
    from bayes_ab.models.arm_comparison import ArmComparison

    _threshold_check(threshold)
    _option_check(prior_scale=prior_scale, prior_method=prior_method,
                  segment_method=segment_method)
    data = read_groups(path, group_col=group_col, outcome_col=outcome_col)
    counts, note = count_arms(data, control=control)
    model: ArmComparison = ArmComparison(counts)
    idata = model.fit(config)
    summary = model.summarize(idata)
    frequentist = _frequentist(counts)
    decisions = _decisions(counts, threshold=threshold, seed=config.seed)
    per_arm = summary.get("per_arm") or {
        counts.arms[1]: {"rate": summary["test"], "lift_abs": summary["lift_abs"],
                         "lift_rel": summary["lift_rel"],
                         "prob_better_than_control": summary["prob_test_better"]}}
    count_dict = {a: {"successes": s, "trials": n}
                  for a, s, n in zip(counts.arms, counts.successes, counts.trials, strict=True)}
    arms = {}
    for arm in counts.arms[1:]:
        b = per_arm[arm]
        arms[arm] = {
            "control": summary["control"],
            "test": b["rate"],
            "lift_abs": b["lift_abs"],
            "lift_rel": b["lift_rel"],
            "prob_test_better": b["prob_better_than_control"],
            "frequentist": frequentist[arm],
            "arms": {"control": counts.control, "test": arm},
            "counts": {counts.control: count_dict[counts.control], arm: count_dict[arm]},
            "decision": decisions[arm],
        }
    results = {
        "schema_version": SCHEMA_VERSION,
        "input": {
            "file": data.file,
            "format": data.format,
            "group_col": data.group_col,
            "outcome_col": data.outcome_col,
            "n_rows": data.n_rows,
            "control_note": note,
            "counts": count_dict,
            "sampler": config.to_dict(),
        },
        "control": counts.control,
        "arms": arms,
        "decision": overall_decision(decisions),
    }
    diagnostics = [model.diagnostics(idata)]
    if ratio is not None:
        results["ratio_metric"] = _ratio_blocks(path, ratio, data, counts,
                                                lower_is_better=ratio_lower_is_better,
                                                seed=config.seed)
    if segment_col is not None:
        results["segments"] = _segment_blocks(path, segment_col, data, counts,
                                              method=segment_method, config=config)
        for arm, block in results["segments"].items():
            diagnostics.append(_as_diagnostics(f"segments[{arm}]", block["diagnostics"]))
    if prior_from is not None:
        results["prior_from_history"] = _prior_block(prior_from, counts, scale=prior_scale,
                                                     method=prior_method, config=config)
        diagnostics.append(_as_diagnostics("meta_prior",
                                           results["prior_from_history"]["diagnostics"]))
    results["diagnostics"] = combine([d for d in diagnostics if d is not None])
    return CompareRun(results=results, idata=idata, model=model)


def compare_file(
    path: str | Path,
    *,
    group_col: str,
    outcome_col: str,
    control: str | None = None,
    config: SamplerConfig = SamplerConfig(),
    threshold: float | None = None,
) -> dict:
    """The compare.json dict for one export (see the module docstring)."""
    return run_compare(path, group_col=group_col, outcome_col=outcome_col, control=control,
                       config=config, threshold=threshold).results


def write_compare(run: CompareRun, out_dir: str | Path, *, figures: bool = True) -> dict[str, Path]:
    """Write compare.json, report.html, report.md, figures/ and idata/ into ``out_dir``
    (an already staged folder: the caller handles --force and atomic replacement)."""
    from bayes_ab.io import write_json
    from bayes_ab.report import render_compare_report

    out = Path(out_dir)
    written: dict[str, Path] = {}
    write_json(out / "compare.json", run.results)
    written["compare.json"] = out / "compare.json"
    figs: dict[str, Path] = {}
    if figures:
        kinds = run.model.figures(run.idata, out / "figures")
        figs = {f"{run.model.name}_{k}": p for k, p in kinds.items()}
    (out / "idata").mkdir(exist_ok=True)
    written["idata"] = run.model.save(run.idata, out / "idata" / "compare.nc")
    html, md = render_compare_report(run.results, figures=figs, out_dir=out)
    written["report.html"], written["report.md"] = html, md
    return written
