"""A seeded simulator of the lead-funnel files (same format as the published data).

Generative story (every parameter in `FunnelSimParams`, overridable):

1. Each lead gets an industry (shares like the published data) and walks the stages:
   it always starts at 1; continues 1 -> 2 with `p_1_to_2`, 2 -> 3 with `p_2_to_3`,
   3 -> 4 with its industry's rate (`stage3_to_4`, the truth the hierarchical model must
   recover), 4 -> 5 with `p_4_to_5_technical` or `p_4_to_5_other`.
2. Leads at stage 1 have no events (as in the published data). Others get, per
   interaction type, a negative-binomial number of distinct events whose mean is
   `mean_events[type][status]` x `activity_scale` (a CLI-heavy, console-heavy profile for
   stages 4 and 5, as the report's Table 1).
3. Event times: a lead's first day is uniform in the window; events follow it with
   exponential gaps (mean `mean_gap_days` / events), diurnal hours.
4. A share `duplicate_share` of the event rows is written twice, byte for byte.

``leads.csv`` is written in Latin-1 with CR-only line endings, ``events.csv`` in UTF-8 with
LF, as published. Same seed, same bytes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_ab.funnel.claims import TECHNICAL_INDUSTRIES
from bayes_ab.data.funnel import KNOWN_EVENT_TYPES, STATUS_LABELS

INDUSTRY_SHARES = {
    "Gaming": 388, "Corporate": 150, "VR": 115, "Entertainment": 111, "IT Firm": 106,
    "Academia": 100, "Simulation": 82, "Infrastructure": 80, "Transportation": 79,
    "Telecoms": 74, "Healthcare": 71, "Finance": 66, "Consulting": 37, "Real Estate": 24,
    "Other": 17,
}

#: Mean distinct events per lead of each type by status 2..5 (rounded Table 1 of the report).
MEAN_EVENTS = {
    "spatial_cli_logged_in": (22.0, 21.5, 291.6, 361.0),
    "website_viewed_console": (14.5, 1.9, 136.5, 140.0),
    "spatial_cli_generic_activity": (19.5, 21.9, 129.4, 139.1),
    "forums_pageview": (11.3, 12.8, 85.5, 82.5),
    "website_downloaded_sdk": (1.2, 1.9, 5.8, 7.6),
    "website_docs": (0.7, 1.3, 1.8, 2.3),
    "website_generated_referral": (0.1, 0.1, 1.1, 0.4),
}


def _default_stage3_to_4() -> dict[str, float]:
    rates = {ind: 0.04 for ind in INDUSTRY_SHARES}
    rates.update({"Gaming": 0.20, "VR": 0.14, "IT Firm": 0.09, "Simulation": 0.07,
                  "Academia": 0.01, "Corporate": 0.01})
    return rates


@dataclass(frozen=True)
class FunnelSimParams:
    n_leads: int = 400
    seed: int = 20260505
    p_1_to_2: float = 0.67
    p_2_to_3: float = 0.71
    stage3_to_4: dict = field(default_factory=_default_stage3_to_4)
    p_4_to_5_technical: float = 0.55
    p_4_to_5_other: float = 0.10
    activity_scale: float = 0.08
    dispersion: float = 0.6  # negative-binomial shape: small = heavy-tailed counts
    duplicate_share: float = 0.3
    start: str = "2016-12-05"
    window_days: int = 89
    mean_gap_days: float = 20.0


def simulate_funnel(params: FunnelSimParams = FunnelSimParams()) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(leads, events, truth) with events already including the duplicated rows."""
    rng = np.random.default_rng(np.random.SeedSequence([int(params.seed), 2024]))
    n = int(params.n_leads)
    names = list(INDUSTRY_SHARES)
    w = np.array([INDUSTRY_SHARES[i] for i in names], dtype=float)
    industry = np.array(names)[rng.choice(len(names), size=n, p=w / w.sum())]
    tech = np.isin(industry, TECHNICAL_INDUSTRIES)

    status = np.ones(n, dtype=int)
    go = rng.random(n) < params.p_1_to_2
    status[go] = 2
    go &= rng.random(n) < params.p_2_to_3
    status[go] = 3
    p34 = np.array([params.stage3_to_4[i] for i in industry])
    go &= rng.random(n) < p34
    status[go] = 4
    go &= rng.random(n) < np.where(tech, params.p_4_to_5_technical, params.p_4_to_5_other)
    status[go] = 5

    emails = np.array([rng.bytes(16).hex() for _ in range(n)])
    first = ["Zoë", "José", "Ana", "Björn", "Chloé", "Li", "Sam", "Nina", "Omar", "Ines"]
    last = ["Núñez", "Goff", "Carr", "Müller", "Brooks", "Rojas", "Kirby", "Salazar"]
    leads = pd.DataFrame({
        "email": emails,
        "name": [f"{first[a]} {last[b]}" for a, b in
                 zip(rng.integers(0, len(first), n), rng.integers(0, len(last), n))],
        "company": "",
        "city": np.where(rng.random(n) < 0.1, "Curacaví", ""),
        "industry": industry,
        "status": [STATUS_LABELS[s] for s in status],
    })

    # ---- events -------------------------------------------------------------------
    start = pd.Timestamp(params.start)
    rows_email, rows_type, rows_time = [], [], []
    active = np.flatnonzero(status >= 2)
    lead_start = rng.uniform(0, params.window_days * 0.7, size=n)
    for t in KNOWN_EVENT_TYPES:
        mean = np.zeros(n)
        mean[active] = np.array(MEAN_EVENTS[t])[status[active] - 2] * params.activity_scale
        k = params.dispersion
        lam = rng.gamma(k, np.where(mean > 0, mean / k, 0.0))
        counts = rng.poisson(lam)
        idx = np.repeat(np.arange(n), counts)
        if idx.size == 0:
            continue
        days = lead_start[idx] + rng.exponential(params.mean_gap_days, size=idx.size) * \
            rng.random(idx.size)
        days = np.minimum(days, params.window_days - 1e-3)
        hours = rng.normal(14.0, 3.5, size=idx.size) % 24
        day_floor = np.floor(days)
        seconds = (day_floor * 86400 + hours * 3600 + rng.integers(0, 60, idx.size)).round(3)
        rows_email.append(emails[idx])
        rows_type.append(np.full(idx.size, t))
        rows_time.append(seconds)
    if rows_email:
        secs = np.concatenate(rows_time)
        ev_type = np.concatenate(rows_type)
        src = np.array([t.split("_", 2)[0] if not t.startswith("spatial_cli")
                        else "spatial_cli" for t in ev_type])
        evt = np.array([t[len(s) + 1:] for t, s in zip(ev_type, src)])
        times = (start + pd.to_timedelta(secs, unit="s")).strftime("%Y-%m-%d %H:%M:%S.%f")
        events = pd.DataFrame({"email": np.concatenate(rows_email), "received_at": times,
                               "source": src, "event": evt})
        events = events.drop_duplicates().sort_values(["email", "received_at"],
                                                      kind="mergesort")
        dup = events[rng.random(len(events)) < params.duplicate_share]
        events = pd.concat([events, dup]).sort_values(["email", "received_at"],
                                                      kind="mergesort")
    else:
        events = pd.DataFrame(columns=["email", "received_at", "source", "event"])
    events = events.reset_index(drop=True)

    truth = {
        "params": {k: v for k, v in asdict(params).items()},
        "stage3_to_4": dict(params.stage3_to_4),
        "n_leads": n,
        "n_events_raw": int(len(events)),
        "n_events_distinct": int(len(events.drop_duplicates())),
        "status_counts": {str(k): int((status == k).sum()) for k in range(1, 6)},
        "technical_industries": list(TECHNICAL_INDUSTRIES),
    }
    return leads, events, truth


#: File names of the simulated funnel (never the real data's names).
SIM_LEADS, SIM_EVENTS = "sim_leads.csv", "sim_events.csv"


def write_funnel(out_dir: str | Path, params: FunnelSimParams = FunnelSimParams()) -> dict:
    """Write sim_leads.csv (Latin-1, CR-only, like the published leads file),
    sim_events.csv (UTF-8, LF) and truth.json. The ``sim_`` prefix keeps simulated
    files apart from the real ``leads.csv`` / ``events.csv`` of shared/data."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    leads, events, truth = simulate_funnel(params)
    text = leads.to_csv(index=False, lineterminator="\r")
    (out / SIM_LEADS).write_bytes(text.encode("latin-1"))
    (out / SIM_EVENTS).write_bytes(events.to_csv(index=False, lineterminator="\n")
                                     .encode("utf-8"))
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n",
                                    encoding="utf-8")
    return truth
