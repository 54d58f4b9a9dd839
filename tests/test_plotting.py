"""bayes_ab.plotting: every plotting function returns a Figure and writes nothing; figures
become files only through `save_figure` / `save_figures`; the library never picks a
matplotlib backend (the CLI does, once)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bayes_ab import plotting
from bayes_ab.plotting import (
    FIGURE_KINDS,
    figure_kinds,
    save_figure,
    save_figures,
    standard_figures,
)

SRC = Path(plotting.__file__).resolve().parents[1]


@pytest.fixture
def quiet_folder(tmp_path, monkeypatch):
    """Work in an empty folder; the test asserts it stays empty and pyplot holds nothing new."""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    before = set(plt.get_fignums())
    yield tmp_path
    assert list(tmp_path.iterdir()) == [], "a plotting function wrote a file"
    assert set(plt.get_fignums()) == before, "a plotting function left a figure in pyplot"


def _idata(seed: int = 0, *, ppc: bool = True):
    import arviz as az

    rng = np.random.default_rng(seed)
    post = {"rate": rng.beta(20, 80, size=(2, 50, 2)),
            "late": rng.normal(0.05, 0.01, size=(2, 50)),
            "naive_difference": rng.normal(0.08, 0.01, size=(2, 50))}
    groups = {"posterior": post, "dims": {"rate": ["arm"]}}
    if ppc:
        groups["posterior_predictive"] = {"y": rng.binomial(100, 0.2, size=(2, 50, 2))}
        groups["observed_data"] = {"y": np.array([18, 22])}
    return az.from_dict(**groups)


# ------------------------------------------------------------------ figures, never files


def test_standard_figures_return_figures_by_kind_and_write_nothing(quiet_folder):
    figs = standard_figures(_idata(), var_names=["rate"], forest_vars=["rate"])
    assert list(figs) == list(FIGURE_KINDS)
    assert all(isinstance(f, Figure) for f in figs.values())
    # Each is its own figure, with the plotted variable on it.
    assert len({id(f) for f in figs.values()}) == len(FIGURE_KINDS)
    assert any("rate" in ax.get_title() for ax in figs["posterior"].axes)


def test_posterior_figure_is_one_panel_per_scalar_at_the_panel_size(quiet_folder):
    """ArviZ's grid (one panel per scalar: rate[2] + late + naive_difference = 4 in a row;
    5 wrap to 2 rows of 3), each panel POSTERIOR_PANEL inches, text at POSTERIOR_TEXTSIZE:
    not ArviZ's 29-inch default row."""
    from bayes_ab.plotting.posterior import POSTERIOR_PANEL, POSTERIOR_TEXTSIZE

    w, h = POSTERIOR_PANEL
    fig = standard_figures(_idata(), kinds=["posterior"], var_names=None)["posterior"]
    assert len([ax for ax in fig.axes if ax.get_title()]) == 4
    np.testing.assert_allclose(fig.get_size_inches(), (4 * w, h))
    idata = _idata()
    idata.posterior["extra"] = idata.posterior["late"] * 2
    fig = standard_figures(idata, kinds=["posterior"])["posterior"]
    assert len([ax for ax in fig.axes if ax.get_title()]) == 5
    np.testing.assert_allclose(fig.get_size_inches(), (3 * w, 2 * h))
    assert {round(t.get_fontsize(), 3) for ax in fig.axes if ax.get_title()
            for t in ax.get_xticklabels()} == {round(POSTERIOR_TEXTSIZE, 3)}
    # Past ArviZ's plot.max_subplots (40) it draws 40 panels: the figure is sized for them.
    import arviz as az
    import warnings

    many = az.from_dict(posterior={"x": np.random.default_rng(1).normal(size=(2, 30, 50))})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fig = standard_figures(many, kinds=["posterior"])["posterior"]
    np.testing.assert_allclose(fig.get_size_inches(), (4 * w, 10 * h))


def test_figure_kinds_select_and_ppc_needs_predictive_data(quiet_folder):
    with figure_kinds(("posterior", "ppc")):
        assert list(standard_figures(_idata(), var_names=["rate"])) == ["posterior", "ppc"]
        # Without posterior predictive draws there is no PPC to draw.
        assert list(standard_figures(_idata(ppc=False), var_names=["rate"])) == ["posterior"]
    assert list(standard_figures(_idata(), var_names=["rate"], kinds=["rank"])) == ["rank"]
    with pytest.raises(ValueError, match="unknown figure kind"):
        standard_figures(_idata(), kinds=["nope"])


def test_analysis_figures_return_figures(quiet_folder):
    from bayes_ab.constants import CHANNELS, TASKS

    rng = np.random.default_rng(1)
    times = np.linspace(0, 60, 30)
    surv = np.exp(-times[None, None, :] / rng.uniform(5, 20, size=(40, len(CHANNELS), 1)))
    fig = plotting.survival_figure(times, surv, window_minutes=60, km_times=[0.0, 10.0, 30.0],
                                   km_survival=[[1.0, 0.6, 0.3], [1.0, 0.7, 0.4]])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 60.0)
    # Two posterior means and two Kaplan-Meier steps; the mean curve is the draws' mean.
    assert len(ax.get_lines()) == 5  # + the 0.5 line
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), surv[:, 0, :].mean(axis=0))

    rates = rng.beta(5, 5, size=(40, len(CHANNELS), len(TASKS)))
    flags = np.full((len(CHANNELS), len(TASKS), 2), 10)
    completed = np.full((len(CHANNELS), len(TASKS), 2), 4)
    fig = plotting.task_rates_figure(rates, flags=flags, completed=completed)
    observed = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "x"]
    np.testing.assert_allclose(observed[0].get_ydata(), 0.4)

    fig = plotting.causal_vs_naive_figure(_idata())
    assert isinstance(fig, Figure) and "causal" in fig.axes[0].get_title()


def test_command_figures_return_figures(quiet_folder):
    from bayes_ab.workflows.calibration import SBC_BINS, SBCResult, UniformityTest
    from bayes_ab.workflows.monitor import DailyCounts, MonitorConfig, monitor
    from bayes_ab.workflows.planning import plan_sample_size

    plan = plan_sample_size(baseline=0.15, mde=0.02, n_sims=200, seed=1)
    fig = plotting.plot_plan(plan)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(),
                                  [p.n_total for p in plan.curve])

    counts = DailyCounts(dates=("2026-04-01", "2026-04-02", "2026-04-03"), control="A",
                         test="B", n_control=(500, 1000, 1500), x_control=(50, 100, 150),
                         n_test=(500, 1000, 1500), x_test=(60, 120, 180))
    result = monitor(counts, config=MonitorConfig(calibration_sims=100, seed=1))
    fig = plotting.plot_monitor(result)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    observed = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "observed lift"][0]
    np.testing.assert_allclose(observed.get_ydata(), [0.02, 0.02, 0.02])

    rng = np.random.default_rng(2)
    test = UniformityTest(n=100, bins=SBC_BINS, chi2=10.0, chi2_p=0.5, ks=0.05, ks_p=0.6)
    sbc = SBCResult(model="m", params=("a", "b", "c"), ranks=rng.integers(0, 100, (100, 3)),
                    n_draws=99, tests={"a": test, "b": test, "c": test},
                    divergences=np.zeros(100), min_ess=np.full(100, 400.0))
    fig = plotting.plot_rank_histograms(sbc, bins=SBC_BINS)
    assert isinstance(fig, Figure) and len(fig.axes) == 3

    results = {"control": "A", "input": {"outcome_col": "converted"},
               "posterior": {"A": {"alpha": 51, "beta": 451}, "B": {"alpha": 61, "beta": 441}},
               "arms": {"A": {}, "B": {}}}
    draws = {"A": rng.beta(51, 451, 2000), "B": rng.beta(61, 441, 2000)}
    fig = plotting.plot_compare_posteriors(results, draws)
    assert isinstance(fig, Figure) and len(fig.axes) == 2


def test_funnel_figures_return_figures(quiet_folder):
    from bayes_ab.data.funnel import STAGES

    post = {"mean": 0.5, "lower": 0.4, "upper": 0.6}
    summary = {
        "at_or_beyond_stage": {str(k): 100 - 10 * i for i, k in enumerate(STAGES)},
        "stage_transitions": {f"{k}_to_{k + 1}": {"posterior": post} for k in STAGES[:-1]},
        "top_journeys": [{"path": ["docs", "forum"], "n_leads": 7}],
        "heuristics": {"top_predictors": [{"name": "docs", "effect": post}]},
    }
    table = pd.DataFrame({"s1": [1.0, 2.0], "s2": [np.nan, 4.0]}, index=["x", "y"])
    attrition = pd.DataFrame({k: [100 - 10 * i, 50 - 5 * i] for i, k in enumerate(STAGES)},
                             index=["retail", "tech"])
    rates = pd.DataFrame({"industry": ["retail", "tech"], "n": [30, 40], "mean": [0.3, 0.5],
                          "lower": [0.2, 0.4], "upper": [0.4, 0.6], "observed": [0.3, 0.5],
                          "verdict": ["below", "above"]})
    weekly = pd.DataFrame({1: [0.5, 0.7], 4: [1.0, 1.2]},
                          index=pd.to_datetime(["2026-01-05", "2026-01-12"]))
    figs = [plotting.plot_funnel(summary), plotting.plot_attrition(attrition),
            plotting.plot_heatmap(table, title="t"), plotting.plot_stage_forest(rates, post),
            plotting.plot_journeys(summary), plotting.plot_weekly(weekly),
            plotting.plot_effects(summary)]
    assert all(isinstance(f, Figure) for f in figs)
    # The heatmap writes each value and leaves the missing cell blank.
    texts = [t.get_text() for t in figs[2].axes[0].texts]
    assert sorted(texts) == ["1.0", "2.0", "4.0"]


def test_the_ppc_of_one_fit_is_the_same_figure_every_time(tmp_path):
    """ArviZ picks the PPC's 100 predictive draws at random: with the fit's seed (stored in
    the InferenceData), one fit draws one figure (it differed from run to run before)."""
    import json

    idata = _idata()
    idata.attrs["sampler_config"] = json.dumps({"seed": 7})
    pngs = [save_figure(standard_figures(idata, var_names=["rate"], kinds=["ppc"])["ppc"],
                        tmp_path / f"{i}.png").read_bytes() for i in range(2)]
    assert pngs[0] == pngs[1]
    idata.attrs["sampler_config"] = json.dumps({"seed": 8})
    other = save_figure(standard_figures(idata, var_names=["rate"], kinds=["ppc"])["ppc"],
                        tmp_path / "other.png").read_bytes()
    assert other != pngs[0]


# ------------------------------------------------------------------ saving at the edge


def test_save_figures_writes_named_pngs_at_the_dpi_and_closes_pyplot_figures(tmp_path):
    import matplotlib.pyplot as plt
    from PIL import Image

    bare = Figure(figsize=(4, 3))
    bare.add_subplot().plot([0, 1], [0, 1])
    managed = plt.figure(figsize=(2, 1))
    managed.add_subplot().plot([0, 1], [1, 0])
    paths = save_figures({"a": bare, "b": managed}, tmp_path / "figs", dpi=50, tight=False)
    assert paths == {"a": tmp_path / "figs" / "a.png", "b": tmp_path / "figs" / "b.png"}
    assert Image.open(paths["a"]).size == (200, 150)  # inches x dpi
    assert Image.open(paths["b"]).size == (100, 50)
    assert managed.number not in plt.get_fignums()  # closed after saving
    # The default: the analysis dpi (110), cropped to the drawing.
    path = save_figure(bare, tmp_path / "c.png")
    width, height = Image.open(path).size
    assert path == tmp_path / "c.png" and width < 4 * plotting.DPI and height < 3 * plotting.DPI


def test_saving_pipeline_figures_leaves_nothing_open(tmp_path):
    """A model's figures, saved as the pipeline saves them: same names, nothing left in pyplot."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    for round_ in range(3):  # repeated analyses do not accumulate figures
        figs = standard_figures(_idata(round_), var_names=["rate"])
        saved = save_figures({f"conversion_{k}": f for k, f in figs.items()}, tmp_path)
        assert sorted(p.name for p in saved.values()) == sorted(
            f"conversion_{k}.png" for k in FIGURE_KINDS)
        assert set(plt.get_fignums()) == before


# ------------------------------------------------------------------ backends


def _python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    environ.update(env)
    environ["PYTHONPATH"] = str(SRC) + os.pathsep + environ.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-c", code], env=environ, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_library_plotting_chooses_no_backend():
    code = ("import matplotlib\n"
            "from bayes_ab.plotting import plot_heatmap\n"
            "import pandas as pd\n"
            "plot_heatmap(pd.DataFrame({'a': [1.0]}), title='t')\n"
            "print(matplotlib.get_backend(auto_select=False))")
    assert _python(code) == "None"


def test_cli_sets_agg_once_unless_a_backend_is_configured():
    code = ("from bayes_ab.cli.main import use_file_backend\n"
            "use_file_backend()\n"
            "import matplotlib\n"
            "print(matplotlib.get_backend())")
    assert _python(code).lower() == "agg"
    assert _python(code, MPLBACKEND="svg").lower() == "svg"
    chosen = ("import matplotlib\nmatplotlib.use('pdf')\n" + code)
    assert _python(chosen).lower() == "pdf"


def test_no_library_module_picks_a_backend_or_saves_a_figure():
    """`matplotlib.use` only in the CLI; `savefig` only in plotting/figure.py; pyplot only
    where ArviZ draws through it (plotting/figure.py closes those figures)."""
    offenders = {"use": [], "savefig": [], "pyplot": []}
    for path in SRC.joinpath("bayes_ab").rglob("*.py"):
        rel = path.relative_to(SRC / "bayes_ab").as_posix()
        text = path.read_text(encoding="utf-8")
        if re.search(r"matplotlib\.use\(", text) and rel != "cli.py":
            offenders["use"].append(rel)
        if ".savefig(" in text and rel != "plotting/figure.py":
            offenders["savefig"].append(rel)
        if "matplotlib.pyplot" in text and rel != "plotting/figure.py":
            offenders["pyplot"].append(rel)
    assert offenders == {"use": [], "savefig": [], "pyplot": []}


def _pixels(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGBA")).astype(int)


def test_the_one_draw_tight_save_gives_matplotlibs_tight_picture(tmp_path):
    """save_figure draws a figure once and crops it; matplotlib's tight save draws it twice.
    Same size to the pixel, same PNG metadata, the same picture up to anti-aliasing from a
    sub-pixel shift; figures with content outside their own area, which the tight save
    widens the canvas for, are saved by matplotlib itself."""
    from PIL import Image

    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot(np.arange(50), np.sin(np.arange(50) / 5))
    ax.set_title("a title at the top edge")
    ax.set_xlabel("minutes")
    ours = save_figure(fig, tmp_path / "ours.png")
    fig.savefig(tmp_path / "mpl.png", dpi=plotting.DPI, bbox_inches="tight")
    a, b = _pixels(ours), _pixels(tmp_path / "mpl.png")
    assert a.shape == b.shape and a.shape[1] < 4 * plotting.DPI
    assert Image.open(ours).info == Image.open(tmp_path / "mpl.png").info
    assert np.abs(a - b).mean() < 3  # of 255: anti-aliased edges only
    assert (np.abs(a - b).max(axis=2) > 128).mean() < 0.01
    assert fig.dpi == 100 and fig.canvas is not None  # the figure is left as it was

    outside = Figure(figsize=(3, 2))
    outside.add_subplot().plot([0, 1], [0, 1])
    outside.text(1.3, 0.5, "a note outside the axes and the figure")
    ours = save_figure(outside, tmp_path / "outside.png")
    outside.savefig(tmp_path / "outside_mpl.png", dpi=plotting.DPI, bbox_inches="tight")
    assert Image.open(ours).size[0] > 3 * plotting.DPI  # widened, as matplotlib does
    assert np.array_equal(_pixels(ours), _pixels(tmp_path / "outside_mpl.png"))
