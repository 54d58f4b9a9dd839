"""ArviZ figures of one fitted model: trace and rank (the sampler's convergence, drawn
for a model that fails the diagnostic gate), posterior with HDI, forest, posterior
predictive check.

`standard_figures` returns ``{kind: Figure}``; which kinds it draws is set per call or,
for a whole analysis, by the `figure_kinds` block (`analyze --figures report|all|none`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from bayes_ab.constants import HDI_PROB
from bayes_ab.plotting.figure import detach

if TYPE_CHECKING:  # pragma: no cover
    import arviz as az
    from matplotlib.figure import Figure

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


def standard_figures(
    idata: az.InferenceData,
    *,
    var_names: Sequence[str] | None = None,
    forest_vars: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> dict[str, Figure]:
    """``{kind: Figure}`` for each kind that applies (a PPC needs posterior predictive and
    observed data). ``kinds`` defaults to the kinds set by `figure_kinds` (every kind
    outside such a block)."""
    import arviz as az

    kinds = _KINDS.get() if kinds is None else tuple(kinds)
    names = list(var_names) if var_names else None
    figures: dict[str, Figure] = {}
    for kind in kinds:
        if kind == "trace":
            axes = az.plot_trace(idata, var_names=names, compact=True)
        elif kind == "rank":
            axes = az.plot_rank(idata, var_names=names)
        elif kind == "posterior":
            axes = az.plot_posterior(idata, var_names=names, hdi_prob=HDI_PROB,
                                     **_posterior_size(idata, names))
        elif kind == "forest":
            axes = az.plot_forest(
                idata, var_names=list(forest_vars) if forest_vars else names,
                combined=True, hdi_prob=HDI_PROB,
            )
        elif kind == "ppc":
            if "posterior_predictive" not in idata.groups() or "observed_data" not in idata.groups():
                continue
            axes = az.plot_ppc(idata, num_pp_samples=100, random_seed=_fit_seed(idata),
                               kind="scatter" if _is_tiny(idata) else "kde")
        else:
            raise ValueError(f"unknown figure kind {kind!r}")
        figures[kind] = detach(axes)
        if kind == "posterior":
            # room between rows for a two-line panel title (variable, coordinate) above
            # the tick labels of the row before
            figures[kind].subplots_adjust(hspace=0.5)
    return figures


#: Inches of one panel of the posterior figure, and its text size (points). ArviZ's own
#: default is matplotlib's 6.4 x 4.8 figure per panel, x 1.15, with 14-16 pt text: 29.4
#: inches (3,200 pixels at `bayes_ab.plotting.figure.DPI`) for a row of four panels, which
#: the report shows a third of that wide. The same figure at about half the size, text
#: scaled with it: a quarter of the pixels to render and compress (about 0.15 s less per
#: figure), and text that stays legible at the report's width.
POSTERIOR_PANEL = (3.7, 2.9)
POSTERIOR_TEXTSIZE = 8.0


def _posterior_size(idata: az.InferenceData, names: list[str] | None) -> dict:
    """``figsize`` and ``textsize`` for ArviZ's posterior plot of ``names``: its own grid
    (`arviz.plots.plot_utils.default_grid` of one panel per scalar), each panel
    `POSTERIOR_PANEL`."""
    import math

    import arviz as az
    from arviz.plots.plot_utils import default_grid

    post = idata.posterior
    n = 0
    for name in names if names is not None else list(post.data_vars):
        if name in post:
            dims = [d for d in post[name].dims if d not in ("chain", "draw")]
            n += math.prod(post[name].sizes[d] for d in dims)
    if n == 0:
        return {}
    max_panels = az.rcParams["plot.max_subplots"]  # ArviZ draws no more than these
    rows, cols = default_grid(min(n, max_panels) if max_panels else n)
    return {"figsize": (cols * POSTERIOR_PANEL[0], rows * POSTERIOR_PANEL[1]),
            "textsize": POSTERIOR_TEXTSIZE}


def _fit_seed(idata: az.InferenceData) -> int:
    """The seed of the fit (``sampler_config`` in the InferenceData's attributes, as
    `bayes_ab.inference.fit` stores it; 0 without one): the PPC's 100 predictive draws are picked with
    it, so the same fit draws the same figure."""
    import json

    try:
        seed = json.loads(idata.attrs["sampler_config"])["seed"]
    except (KeyError, TypeError, ValueError):
        return 0
    return int(seed) if seed is not None else 0


def _is_tiny(idata: az.InferenceData) -> bool:
    """Few observed cells (aggregated counts): a scatter PPC reads better than a KDE."""
    return sum(int(v.size) for v in idata.observed_data.data_vars.values()) < 64
