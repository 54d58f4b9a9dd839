"""ArviZ figures for every model: trace, rank, posterior with HDI, forest, PPC.

Plots take data and keyword-only options and return figures (or write PNGs);
they never call ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from bayes_ab.constants import HDI_PROB

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az

FIGURE_KINDS = ("trace", "rank", "posterior", "forest", "ppc")
#: The ArviZ figures the report shows open (plus each model's own figures, which are
#: always drawn): `analyze --figures report`, the default. The sampler figures (trace,
#: rank) are added for a model that fails the diagnostic gate.
REPORT_FIGURE_KINDS = ("posterior",)
#: Added for a model that fails the diagnostic gate under `--figures report`.
GATE_FIGURE_KINDS = ("trace", "rank")
#: `analyze --figures`: report (default), all (every ArviZ figure of every model), none.
FIGURE_SETS = ("report", "all", "none")

_KINDS: ContextVar[tuple[str, ...]] = ContextVar("bayes_ab_figure_kinds", default=FIGURE_KINDS)


@contextmanager
def figure_kinds(kinds: Sequence[str]) -> Iterator[None]:
    """Within the block, `standard_figures` draws only these kinds unless told otherwise."""
    unknown = set(kinds) - set(FIGURE_KINDS)
    if unknown:
        raise ValueError(f"unknown figure kinds {sorted(unknown)}")
    token = _KINDS.set(tuple(kinds))
    try:
        yield
    finally:
        _KINDS.reset(token)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig_or_axes, path: Path) -> Path:
    plt = _plt()
    fig = getattr(fig_or_axes, "figure", None)
    if fig is None:
        import numpy as np

        first = np.asarray(fig_or_axes, dtype=object).ravel()[0]
        fig = first.figure
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def standard_figures(
    idata: az.InferenceData,
    *,
    name: str,
    out_dir: str | Path,
    var_names: Sequence[str] | None = None,
    forest_vars: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> dict[str, Path]:
    """Write `<name>_<kind>.png` for each kind that applies; return {kind: path}.

    ``kinds`` defaults to the kinds set by `figure_kinds` (every kind outside it)."""
    import arviz as az

    kinds = _KINDS.get() if kinds is None else tuple(kinds)

    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(var_names) if var_names else None
    written: dict[str, Path] = {}
    for kind in kinds:
        path = out / f"{name}_{kind}.png"
        if kind == "trace":
            axes = az.plot_trace(idata, var_names=names, compact=True)
        elif kind == "rank":
            axes = az.plot_rank(idata, var_names=names)
        elif kind == "posterior":
            axes = az.plot_posterior(idata, var_names=names, hdi_prob=HDI_PROB)
        elif kind == "forest":
            axes = az.plot_forest(
                idata, var_names=list(forest_vars) if forest_vars else names,
                combined=True, hdi_prob=HDI_PROB,
            )
        elif kind == "ppc":
            if "posterior_predictive" not in idata.groups() or "observed_data" not in idata.groups():
                continue
            axes = az.plot_ppc(idata, num_pp_samples=100, kind="scatter" if _is_tiny(idata) else "kde")
        else:
            raise ValueError(f"unknown figure kind {kind!r}")
        written[kind] = _save(axes, path)
    plt.close("all")
    return written


def _is_tiny(idata: az.InferenceData) -> bool:
    """Few observed cells (aggregated counts): a scatter PPC reads better than a KDE."""
    return sum(int(v.size) for v in idata.observed_data.data_vars.values()) < 64
