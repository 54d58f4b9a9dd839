"""The shared core: intervals, safe output, errors, CLI plumbing, sampling and the diagnostic gate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from bayes_ab import HDI_PROB
from bayes_ab.cli.main import main
from bayes_ab.inference.diagnostics import ModelDiagnostics, combine
from bayes_ab.errors import DataError, OptionError, OutputExistsError
from bayes_ab.inference.fit import SamplerConfig
from bayes_ab.inference.intervals import draws_interval, hdi_bounds, prob_draws_greater
from bayes_ab.io import staged_output_dir, write_json


def test_one_credible_mass_everywhere():
    assert HDI_PROB == 0.95
    assert draws_interval(np.arange(10.0))["prob"] == HDI_PROB


def test_hdi_of_normal_draws_matches_closed_form():
    x = stats.norm(2.0, 3.0).rvs(size=400_000, random_state=1)
    lo, hi = hdi_bounds(x)
    assert lo == pytest.approx(2.0 - 1.959964 * 3.0, abs=0.05)
    assert hi == pytest.approx(2.0 + 1.959964 * 3.0, abs=0.05)


def test_hdi_of_skewed_draws_is_narrower_than_equal_tails():
    x = stats.expon().rvs(size=200_000, random_state=2)
    lo, hi = hdi_bounds(x)
    # The HDI of an exponential starts at 0 and ends at -log(0.05).
    assert lo == pytest.approx(0.0, abs=0.01)
    assert hi == pytest.approx(-np.log(0.05), rel=0.02)
    eti = np.quantile(x, [0.025, 0.975])
    assert hi - lo < eti[1] - eti[0]


def test_prob_greater():
    assert prob_draws_greater(np.array([-1.0, 1.0, 2.0, 3.0])) == 0.75


def test_data_error_names_file_column_and_lines():
    err = DataError("unknown label 'tset'", file="test_cohorts.csv", column="cohort",
                    lines=list(range(2, 20)))
    text = str(err)
    assert "test_cohorts.csv" in text and "'cohort'" in text
    assert "18 row(s)" in text and "line(s) 2, 3" in text and "and 8 more" in text


def test_staged_output_refuses_existing_folder_and_keeps_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    with pytest.raises(OutputExistsError), staged_output_dir(out):
        pass
    assert (out / "keep.txt").read_text() == "precious"


def test_staged_output_replaces_with_force_and_cleans_up_on_failure(tmp_path):
    out = tmp_path / "out"
    with staged_output_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(RuntimeError), staged_output_dir(out, force=True) as tmp:
        (tmp / "b.txt").write_text("2")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (out / "a.txt").exists() and not (out / "b.txt").exists()
    with staged_output_dir(out, force=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == [".bayes-ab-output.json", "b.txt"]


def test_write_json_is_strict(tmp_path):
    path = tmp_path / "r.json"
    write_json(path, {"a": np.float64("nan"), "b": np.int64(3), "c": [np.bool_(True)]})
    assert json.loads(path.read_text()) == {"a": None, "b": 3, "c": [True]}


def test_sampler_config_rejects_bad_options():
    with pytest.raises(OptionError, match="unknown sampler"):
        SamplerConfig(sampler="stan")
    with pytest.raises(OptionError, match="--draws"):
        SamplerConfig(draws=0)
    assert SamplerConfig(seed=5).with_seed_offset(3).seed == 8


def test_diagnostic_gate():
    good = ModelDiagnostics("a", max_r_hat=1.003, min_ess_bulk=900, divergences=0)
    bad = ModelDiagnostics("b", max_r_hat=1.05, min_ess_bulk=120, divergences=3)
    assert good.passed and not bad.passed
    assert len(bad.problems()) == 3
    block = combine([good, bad])
    assert block["passed"] is False
    assert block["max_r_hat"] == 1.05 and block["min_ess_bulk"] == 120 and block["divergences"] == 3
    assert set(block["per_model"]) == {"a", "b"}


def test_diagnostic_gate_skips_constant_elements_silently():
    """An element that never varies (a task effect fixed at 0) has r_hat 0/0: left out of
    the max, with no numpy warning printed (a user saw "invalid value encountered in
    scalar divide" under `analyze --quiet`)."""
    import warnings

    import arviz as az

    from bayes_ab.inference.diagnostics import check

    rng = np.random.default_rng(3)
    effect = rng.normal(size=(4, 500, 3))
    effect[..., 0] = 0.0  # fixed by the parameterisation
    idata = az.from_dict(posterior={"effect": effect, "mu": rng.normal(size=(4, 500))})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="warn"):
            diag = check(idata, name="constant")
    assert np.isfinite(diag.max_r_hat) and diag.max_r_hat < 1.02
    assert diag.min_ess_bulk > 1000


def test_cli_without_command_prints_help(capsys):
    assert main([]) == 2
    assert "bayes-ab" in capsys.readouterr().out


@pytest.fixture(scope="session")
def beta_binomial_fit():
    """One tiny real fit shared by the sampling tests (nutpie, the default sampler)."""
    import pymc as pm

    from bayes_ab.inference.fit import sample

    with pm.Model(coords={"arm": ["Control", "Test"]}) as model:
        p = pm.Beta("p", 1, 1, dims="arm")
        pm.Binomial("y", n=np.array([7000, 3000]), p=p, observed=np.array([700, 360]), dims="arm")
    cfg = SamplerConfig(draws=500, tune=500, chains=2, seed=11)
    return model, cfg, sample(model, name="tiny", config=cfg, model_config={"k": 1})


def test_nutpie_posterior_matches_conjugate_beta(beta_binomial_fit):
    _, _, idata = beta_binomial_fit
    post = idata.posterior["p"]
    assert list(post.coords["arm"].values) == ["Control", "Test"]
    # Beta(701, 6301) and Beta(361, 2641): means 0.10014 and 0.12025.
    assert float(post.sel(arm="Control").mean()) == pytest.approx(701 / 7002, abs=0.0015)
    assert float(post.sel(arm="Test").mean()) == pytest.approx(361 / 3002, abs=0.002)
    assert not any(str(v).endswith("__") for v in idata.posterior.data_vars)


def test_configs_saved_in_attrs_and_reloaded(beta_binomial_fit, tmp_path):
    from bayes_ab.inference.diagnostics import check
    from bayes_ab.inference.fit import load_idata, save_idata

    _, cfg, idata = beta_binomial_fit
    path = save_idata(idata, tmp_path / "idata" / "tiny.nc")
    back, model_config, sampler = load_idata(path)
    assert model_config == {"k": 1} and sampler == cfg
    assert back.attrs["bayes_ab_model"] == "tiny"
    diag = check(back, name="tiny")
    assert diag.divergences == 0 and diag.max_r_hat < 1.02 and diag.n_chains == 2


def test_same_seed_same_draws(beta_binomial_fit):
    from bayes_ab.inference.fit import sample

    model, cfg, idata = beta_binomial_fit
    again = sample(model, name="tiny", config=cfg)
    np.testing.assert_array_equal(again.posterior["p"].values, idata.posterior["p"].values)


def test_staged_output_has_normal_permissions(tmp_path):
    import os

    with staged_output_dir(tmp_path / "out") as tmp:
        (tmp / "x").write_text("1")
    umask = os.umask(0)
    os.umask(umask)
    assert ((tmp_path / "out").stat().st_mode & 0o777) == (0o777 & ~umask)
