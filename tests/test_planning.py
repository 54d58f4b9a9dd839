"""Sample-size planning: pinned textbook numbers, statsmodels agreement, closed-form limits
of the pre-posterior simulation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from bayes_ab.cli import main
from bayes_ab.errors import OptionError
from bayes_ab.planning import (
    frequentist_total_n,
    plan_sample_size,
    power_at,
    statsmodels_total_n,
)


def test_textbook_equal_split_is_3841_per_arm():
    # 10% vs 12%, alpha 0.05 two-sided, power 0.8, equal split: the classic 3,841 per arm.
    n = frequentist_total_n(0.10, 0.12, split=0.5)
    assert math.ceil(n / 2) == 3841
    assert n / 2 == pytest.approx(3840.85, abs=0.01)


def test_hand_computed_unequal_split():
    s, pc, pt = 0.3, 0.15, 0.16
    pbar = 0.7 * pc + 0.3 * pt
    za, zb = stats.norm.isf(0.025), stats.norm.ppf(0.8)
    n = (za * math.sqrt(pbar * (1 - pbar) * (1 / s + 1 / (1 - s)))
         + zb * math.sqrt(pc * (1 - pc) / (1 - s) + pt * (1 - pt) / s)) ** 2 / 0.01**2
    assert frequentist_total_n(pc, pt, split=s) == pytest.approx(n, rel=1e-12)
    assert math.ceil(n) == 48_742
    # The same design solved for power gives the target back.
    assert float(power_at(n, pc, pt, split=s)) == pytest.approx(0.8, abs=1e-9)


@pytest.mark.parametrize("pc,pt,split", [(0.10, 0.12, 0.5), (0.15, 0.16, 0.3), (0.3, 0.27, 0.2)])
def test_agrees_with_statsmodels_within_one_percent(pc, pt, split):
    ours = frequentist_total_n(pc, pt, split=split)
    theirs = statsmodels_total_n(pc, pt, split=split)
    assert theirs == pytest.approx(ours, rel=0.01)


def test_statsmodels_ratio_convention_pinned():
    # NormalIndPower on Cohen's h with ratio = Test / Control: 3,834.6 per arm for 10% vs 12%.
    assert statsmodels_total_n(0.10, 0.12, split=0.5) / 2 == pytest.approx(3834.6, abs=0.1)


@pytest.fixture(scope="module")
def plan():
    return plan_sample_size(baseline=0.15, mde=0.01, split=0.3, n_grid=[5000, 20000, 48742],
                            n_sims=4000, seed=1)


def test_assurance_with_flat_prior_is_one_sided_power(plan):
    # With a flat prior and large n, "P(test better) > 0.95" is the one-sided z-test at 0.05,
    # i.e. the two-sided test at alpha 0.10: assurance ~ that power (Monte-Carlo sd < 0.008).
    for p in plan.curve:
        one_sided = float(power_at(p.n_total, 0.15, 0.16, split=0.3, alpha=0.10))
        assert p.assurance == pytest.approx(one_sided, abs=0.025)
    assert plan.curve[-1].power == pytest.approx(0.8, abs=1e-3)


def test_null_expected_loss_matches_closed_form(plan):
    # A/A: the posterior difference D ~ N(mu, sd), mu ~ N(0, sd) across experiments, so
    # E[min(E[max(0,D)], E[max(0,-D)])] = sd * (1/sqrt(pi) - 1/sqrt(2 pi)).
    c = 1 / math.sqrt(math.pi) - 1 / math.sqrt(2 * math.pi)
    for p in plan.curve:
        sd = math.sqrt(0.15 * 0.85 * (1 / p.n_test + 1 / p.n_control))
        assert p.expected_loss_null == pytest.approx(c * sd, rel=0.04)
    losses = [p.expected_loss for p in plan.curve]
    assert losses == sorted(losses, reverse=True)


def test_normal_summary_agrees_with_beta_draws():
    kw = dict(baseline=0.15, mde=0.01, split=0.3, n_grid=[3000, 30000], n_sims=400, seed=3)
    a = plan_sample_size(**kw)
    b = plan_sample_size(**kw, method="draws", n_draws=1000)
    for p, q in zip(a.curve, b.curve):
        assert q.assurance == pytest.approx(p.assurance, abs=0.03)
        assert q.expected_loss == pytest.approx(p.expected_loss, rel=0.1)


def test_relative_mde_and_seed_reproducibility():
    a = plan_sample_size(baseline=0.2, mde=0.1, relative=True, n_grid=[1000], n_sims=200)
    assert a.target == pytest.approx(0.22) and a.mde_rel == pytest.approx(0.1)
    b = plan_sample_size(baseline=0.2, mde=0.1, relative=True, n_grid=[1000], n_sims=200)
    assert a == b


@pytest.mark.parametrize("kw", [dict(baseline=1.2, mde=0.01), dict(baseline=0.1, mde=0.0),
                                dict(baseline=0.1, mde=0.01, split=1.0),
                                dict(baseline=0.95, mde=0.1)])
def test_bad_options_raise(kw):
    with pytest.raises(OptionError):
        plan_sample_size(n_sims=50, n_grid=[100], **kw)


def test_cli_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "plan"
    rc = main(["plan", "--baseline", "0.10", "--mde", "0.02", "--split", "0.5",
               "--sims", "200", "--out", str(out)])
    assert rc == 0
    doc = json.loads((out / "plan.json").read_text())
    assert doc["frequentist"]["n_test"] == 3841 and doc["frequentist"]["n_control"] == 3841
    assert (out / "plan.png").stat().st_size > 10_000
    assert "3,841" in capsys.readouterr().out
    assert main(["plan", "--baseline", "0.1", "--mde", "0"]) == 2
    ns = [p["n_total"] for p in doc["curve"]]
    assert ns == sorted(ns) and np.all(np.diff([p["power"] for p in doc["curve"]]) > 0)
