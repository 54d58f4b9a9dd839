"""Two generators of the help-widget data contract that are NOT the project's simulator.

Test fixtures for the forensics calibration (docs/FORENSICS.md, models/forensics.py
``--calibrate``): the "Real or simulated?" rule must recognise simulated data from
generators it was not built against.

``naive(n, seed)``
    What a first attempt writes: joins uniform over two weeks, every step an independent
    Bernoulli, exponential durations, Poisson-free single help flags, conversion times
    uniform over the trial, clean tables (no blanks, duplicates or orphans).
``careful(n, seed)``
    A generator written to look real: weekday/weekend and diurnal arrival with a
    second time zone, person-level frailty (log-normal durations times a log-normal
    speed, so durations are mixtures), gamma-Poisson help flags, sessions resumed the
    next day at a waking hour, conversion times on a daily clock, and messiness: a
    second client logging milliseconds, exact duplicate rows, a few orphan help rows,
    a few completions logged before their start, blank optional cells.

Both return ``{stem: DataFrame}`` in the contract's columns; `write` saves them as CSV.
Every draw comes from one ``numpy.random.Generator`` seeded by ``seed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-03-04", tz="UTC")  # a Monday

#: Relative arrivals per UTC hour of a European-office audience (lunch dip, evening bump).
HOUR_PROFILE = np.array([2, 1, 1, 1, 1, 2, 4, 9, 16, 22, 25, 19, 11, 18, 24, 23, 17, 9, 12,
                         14, 8, 5, 3, 2], float)


def _iso(ts: pd.Series | pd.DatetimeIndex, *, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> np.ndarray:
    return pd.Series(ts).dt.strftime(fmt).to_numpy(object)


def naive(n: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"user{v}" for v in rng.choice(9_000_000, n, replace=False) + 1_000_000])
    cohort = np.where(rng.random(n) < 0.3, "Test", "Control")
    join = START + pd.to_timedelta(rng.uniform(0, 14 * 86400, n), unit="s")
    rows, flags = [], []
    t = join + pd.to_timedelta(rng.uniform(0, 3600, n), unit="s")
    alive = rng.random(n) < 0.8
    for task in (1, 2, 3):
        dur = pd.to_timedelta(rng.exponential(600, n), unit="s")
        done = alive & (rng.random(n) < 0.75)
        rows += [pd.DataFrame({"customer_id": ids[alive], "task": task, "action": "start",
                               "timestamp": _iso(t[alive])}),
                 pd.DataFrame({"customer_id": ids[done], "task": task, "action": "complete",
                               "timestamp": _iso((t + dur)[done])})]
        flagged = alive & (rng.random(n) < 0.3)
        p_cs = np.where(cohort == "Test", 0.4, 0.2)
        flags.append(pd.DataFrame({
            "customer_id": ids[flagged],
            "timestamp": _iso((t + dur * rng.uniform(0, 1, n))[flagged]),
            "task": task,
            "channel": np.where(rng.random(n) < p_cs, "CS", "OTHER")[flagged]}))
        t = t + dur + pd.to_timedelta(rng.uniform(0, 3600, n), unit="s")
        alive = done
    converted = rng.random(n) < 0.1
    conv_at = join + pd.to_timedelta(rng.uniform(0, 30 * 86400, n), unit="s")
    return {
        "test_cohorts": pd.DataFrame({"customer_id": ids, "cohort": cohort}),
        "product_activity": pd.concat(rows, ignore_index=True),
        "help_activity": pd.concat(flags, ignore_index=True),
        "conversion": pd.DataFrame({"customer_id": ids, "converted": converted.astype(int),
                                    "converted_at": np.where(converted, _iso(conv_at), "")}),
    }


def _waking_times(rng: np.random.Generator, days: pd.DatetimeIndex | pd.Series,
                  shift_h: np.ndarray) -> pd.Series:
    """A time on each given day, hour drawn from HOUR_PROFILE (shifted by a time zone)."""
    hour = rng.choice(24, len(days), p=HOUR_PROFILE / HOUR_PROFILE.sum())
    sec = ((hour + shift_h) % 24) * 3600 + rng.uniform(0, 3600, len(days))
    return pd.Series(pd.DatetimeIndex(days).floor("D")) + pd.to_timedelta(sec, unit="s")


def careful(n: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array(["".join(rng.choice(list("0123456789abcdef"), 8)) + "-" +
                    "".join(rng.choice(list("0123456789abcdef"), 4)) for _ in range(n)])
    ids = pd.unique(ids)
    n = ids.size
    cohort = np.where(rng.random(n) < 0.3, "Test", "Control")
    shift = np.where(rng.random(n) < 0.3, -5.0, 0.0)  # a second audience, five hours west
    day_w = np.array([1.0 if d.dayofweek < 5 else 0.45
                      for d in pd.date_range(START, periods=21, freq="D")])
    day = pd.date_range(START, periods=21, freq="D")[rng.choice(21, n, p=day_w / day_w.sum())]
    join = _waking_times(rng, day, shift)
    speed = rng.lognormal(0.0, 0.7, n)  # slow and quick people
    ability = rng.normal(0, 1, n)
    rows, flags = [], []
    t = join + pd.to_timedelta(rng.lognormal(np.log(120), 1.2, n), unit="s")
    alive = rng.random(n) < 1 / (1 + np.exp(-(1.4 + 0.6 * ability)))
    n_done = np.zeros(n, int)
    for task in (1, 2, 3):
        secs = rng.lognormal(np.log(240 * task), 0.8, n) * speed
        dur = pd.to_timedelta(secs, unit="s")
        done = alive & (rng.random(n) < 1 / (1 + np.exp(-(1.2 + 0.8 * ability - 0.3 * task))))
        rows += [pd.DataFrame({"customer_id": ids[alive], "task": task, "action": "start",
                               "ts": t[alive].to_numpy()}),
                 pd.DataFrame({"customer_id": ids[done], "task": task, "action": "complete",
                               "ts": (t + dur)[done].to_numpy()})]
        k = rng.negative_binomial(0.6, 0.6 / (0.6 + 0.5 * speed)) * alive
        for j in range(1, int(k.max(initial=0)) + 1):
            m = k >= j
            p_cs = 1 / (1 + np.exp(-(-1.2 + 1.1 * (cohort == "Test") - 0.4 * ability)))
            channel = np.where(rng.random(n) < p_cs, "CS", "OTHER")
            cs_type = np.where(channel == "CS",
                               rng.choice(["article", "video", "chatbot", "agent"], n,
                                          p=[0.35, 0.2, 0.3, 0.15]), "")
            flags.append(pd.DataFrame({
                "customer_id": ids[m], "ts": (t + dur * rng.uniform(0, 1, n))[m].to_numpy(),
                "task": task, "channel": channel[m], "cs_type": cs_type[m]}))
        n_done += done
        # Next task: most go on within minutes; some come back on a later day, awake.
        gap = pd.to_timedelta(rng.lognormal(np.log(90), 1.5, n), unit="s")
        later = rng.random(n) < 0.2
        nxt = t + dur + gap
        back = _waking_times(rng, (t + dur + pd.Timedelta(days=1)).to_numpy(), shift)
        t = pd.Series(np.where(later, back.to_numpy(), nxt.to_numpy()))
        t = pd.to_datetime(t, utc=True)
        alive = done
    activity = pd.concat(rows, ignore_index=True)
    help_ = pd.concat(flags, ignore_index=True)
    # Messiness: a second client with millisecond clocks, duplicated rows, skewed clocks.
    for df in (activity, help_):
        ms = rng.random(len(df)) < 0.03
        ts = pd.to_datetime(df["ts"], utc=True)
        df["timestamp"] = np.where(ms, _iso(ts, fmt="%Y-%m-%dT%H:%M:%S.%f")
                                   .astype(str).astype(object), _iso(ts))
        df["timestamp"] = [s[:23] + "Z" if "." in s else s for s in df["timestamp"]]
    skew = activity.index[(activity["action"] == "complete").to_numpy()
                          & (rng.random(len(activity)) < 0.002)]
    activity.loc[skew, "timestamp"] = _iso(pd.to_datetime(activity.loc[skew, "ts"], utc=True)
                                           - pd.Timedelta(hours=1))
    activity = activity.drop(columns="ts")
    help_ = help_.drop(columns="ts")[["customer_id", "timestamp", "task", "channel", "cs_type"]]
    activity = pd.concat([activity, activity.sample(frac=0.008, random_state=seed)])
    orphans = help_.sample(min(5, len(help_)), random_state=seed + 1).assign(
        customer_id=[f"test-{i:03d}" for i in range(min(5, len(help_)))])
    help_ = pd.concat([help_, help_.sample(frac=0.005, random_state=seed + 2), orphans])
    p_conv = 1 / (1 + np.exp(-(-3.0 + 0.5 * n_done + 0.3 * ability)))
    converted = rng.random(n) < p_conv
    conv_day = join + pd.to_timedelta(rng.lognormal(np.log(4), 1.0, n).clip(0, 29), unit="D")
    conv_at = _waking_times(rng, conv_day.to_numpy(), shift)
    conv_at = pd.Series(np.maximum(conv_at.to_numpy(), join.to_numpy()))
    conv_text = np.where(converted & (rng.random(n) > 0.02), _iso(conv_at), "")
    return {
        "test_cohorts": pd.DataFrame({"customer_id": ids, "cohort": cohort,
                                      "joined_at": _iso(join)}),
        "product_activity": activity.sample(frac=1.0, random_state=seed + 3)
                                    .sort_values("timestamp", kind="stable"),
        "help_activity": help_.sort_values("timestamp", kind="stable"),
        "conversion": pd.DataFrame({"customer_id": ids, "converted": converted.astype(int),
                                    "converted_at": conv_text}),
    }


GENERATORS = {"naive": naive, "careful": careful}


def write(tables: dict[str, pd.DataFrame], folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, df in tables.items():
        df.to_csv(folder / f"{stem}.csv", index=False)
    return folder


def write_generated(name: str, folder: str | Path, *, n: int, seed: int) -> Path:
    """Write one generator's tables (``naive``, ``careful`` or ``simulator``: the project's)."""
    if name == "simulator":
        from bayes_ab.simulate import simulate, write_simulation

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_simulation(simulate(n=n, seed=seed, truth=False), folder)
        return folder
    return write(GENERATORS[name](n, seed), folder)
