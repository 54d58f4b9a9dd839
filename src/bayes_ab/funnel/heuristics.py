"""Held-out evaluation: a seeded stratified split, AUC, and rules a sales team can use.

A *rule* is a plain sentence about a lead's interactions ("has logged in to the CLI and
viewed the console"). Thresholds are chosen on the training leads only; precision and
recall are measured on the held-out leads, each with a Beta(1, 1) posterior HDI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_ab.funnel.intervals import beta_rate_interval
from bayes_ab.inference.intervals import draws_interval


def stratified_split(y, *, test_share: float = 0.3, seed: int = 0) -> np.ndarray:
    """Boolean mask of held-out rows, the same share of each outcome class in it."""
    y = np.asarray(y)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    test = np.zeros(len(y), dtype=bool)
    for cls in np.unique(y):
        idx = np.flatnonzero(y == cls)
        k = int(round(test_share * len(idx)))
        test[rng.choice(idx, size=k, replace=False)] = True
    return test


def auc(y, score) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted one half)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=float)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auc_interval(y, score, *, n_boot: int = 1000, seed: int = 0) -> dict:
    """AUC with a Bayesian-bootstrap interval (Dirichlet weights over leads)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=float)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 11]))
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return {"mean": float("nan"), "lower": float("nan"), "upper": float("nan"),
                "prob": 0.95, "point": float("nan")}
    # P(score_pos > score_neg) under Dirichlet weights of each class: a weighted AUC.
    gt = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    draws = np.empty(n_boot)
    for b in range(n_boot):
        wp = rng.dirichlet(np.ones(len(pos)))
        wn = rng.dirichlet(np.ones(len(neg)))
        draws[b] = wp @ gt @ wn
    out = draws_interval(draws)
    out["point"] = auc(y, s)
    return out


@dataclass(frozen=True)
class Rule:
    """A named predicate over the per-lead count table."""

    name: str
    text: str
    predicate: Callable[[pd.DataFrame], np.ndarray]


def _col(counts: pd.DataFrame, name: str) -> np.ndarray:
    return counts[name].to_numpy() if name in counts.columns else np.zeros(len(counts))


def best_threshold(values: np.ndarray, y: np.ndarray, *, max_threshold: int = 500) -> int:
    """Threshold t >= 1 maximising F1 of `value >= t` on the training leads."""
    y = np.asarray(y).astype(bool)
    cands = np.unique(np.clip(values[values >= 1], 1, max_threshold)).astype(int)
    best, best_f1 = 1, -1.0
    for t in cands:
        pred = values >= t
        tp = int((pred & y).sum())
        if tp == 0:
            continue
        f1 = 2 * tp / (pred.sum() + y.sum())
        if f1 > best_f1:
            best, best_f1 = int(t), f1
    return best


def candidate_rules(train_counts: pd.DataFrame, train_y) -> list[Rule]:
    """The rules evaluated: fixed plain-language ones and two with trained thresholds."""
    cli = "spatial_cli_logged_in"
    con = "website_viewed_console"
    fr = "forums_pageview"
    t_cli = best_threshold(_col(train_counts, cli), train_y)
    t_con = best_threshold(_col(train_counts, con), train_y)
    return [
        Rule("any_activity", "has any recorded interaction",
             lambda c: c.sum(axis=1).to_numpy() > 0),
        Rule("cli", "has logged in to the CLI", lambda c: _col(c, cli) >= 1),
        Rule("console", "has viewed the web console", lambda c: _col(c, con) >= 1),
        Rule("cli_and_console", "has logged in to the CLI and viewed the console",
             lambda c: (_col(c, cli) >= 1) & (_col(c, con) >= 1)),
        Rule("cli_console_forums",
             "has logged in to the CLI, viewed the console and read the forums",
             lambda c: (_col(c, cli) >= 1) & (_col(c, con) >= 1) & (_col(c, fr) >= 1)),
        Rule(f"cli_logins_ge_{t_cli}", f"has logged in to the CLI at least {t_cli} times",
             lambda c, t=t_cli: _col(c, cli) >= t),
        Rule(f"console_views_ge_{t_con}", f"has viewed the console at least {t_con} times",
             lambda c, t=t_con: _col(c, con) >= t),
    ]


def evaluate_rule(rule: Rule, counts: pd.DataFrame, y) -> dict:
    y = np.asarray(y).astype(bool)
    pred = np.asarray(rule.predicate(counts)).astype(bool)
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    base = float(y.mean()) if len(y) else float("nan")
    return {
        "rule": rule.name, "text": rule.text, "n_flagged": int(pred.sum()),
        "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "precision": beta_rate_interval(tp, tp + fp),
        "recall": beta_rate_interval(tp, tp + fn),
        "precision_observed": tp / (tp + fp) if tp + fp else None,
        "recall_observed": tp / (tp + fn) if tp + fn else None,
        "lift_over_base_rate": (tp / (tp + fp)) / base if tp + fp and base > 0 else None,
    }


def evaluate_rules(train_counts, train_y, test_counts, test_y) -> list[dict]:
    rules = candidate_rules(train_counts, train_y)
    return [evaluate_rule(r, test_counts, test_y) for r in rules]
