"""The stable keys of results.json and funnel.json (shared/design/RESULTS_SCHEMA.md).

`missing_keys(results)` lists every required key path that is absent, so tests (and
programs that read our output) can check a file against the published interface.
A block may be null when its model could not be estimated; its inner keys are then
not required (the report says "not estimated" and data_quality says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from bayes_ab.results import Interval, Result

if TYPE_CHECKING:  # pragma: no cover
    from bayes_ab.models.arm_comparison import ArmComparisonResult
    from bayes_ab.models.completions_conversion import CompletionsConversionResult
    from bayes_ab.models.help_completion import HelpCompletionResult
    from bayes_ab.models.causal_cs_effect import CausalCsEffectResult
    from bayes_ab.models.time_to_completion import TimeToCompletionResult
    from bayes_ab.models.time_and_experience import TimeAndExperienceResult

INTERVAL = {"mean": None, "lower": None, "upper": None, "prob": None}

ARM_COMPARISON = {
    "control": INTERVAL, "test": INTERVAL, "lift_abs": INTERVAL, "lift_rel": INTERVAL,
    "prob_test_better": None,
    "frequentist": {"test": None, "p_value": None, "p_value_holm": None,
                    "ci95_diff": INTERVAL, "significant_95": None},
}

RESULTS = {
    "schema_version": None,
    "input": {"n_customers": None, "n_test": None, "n_control": None, "dropped": None},
    "srm": {"expected_test_share": None, "observed_test_share": None, "p_value": None,
            "mismatch": None},
    "conversion": ARM_COMPARISON,
    "cs_engagement": ARM_COMPARISON,
    "help_channels": {
        "completion": {"cs": INTERVAL, "other": INTERVAL, "diff": INTERVAL, "prob_cs_better": None},
        "time_to_completion": {"hazard_ratio_cs_vs_other": INTERVAL, "prob_cs_faster": None,
                               "median_minutes": {"cs": None, "other": None}},
        "causal_effect": INTERVAL,
    },
    "completions_conversion": {
        "rate_by_completions": {"0": INTERVAL, "1": INTERVAL, "2": INTERVAL, "3": INTERVAL},
        "prob_monotone_increasing": None, "odds_ratio_per_completion": INTERVAL,
    },
    "time_and_experience": {"hour_effect": INTERVAL, "experience_effect": INTERVAL,
                            "prob_success_rises_with_time": None,
                            "prob_success_rises_with_experience": None},
    "decision": {"recommendation": None, "metric": None,
                 "expected_loss": {"double_down": None, "pivot": None},
                 "threshold_of_caring": None, "prob_test_better": None},
    "diagnostics": {"max_r_hat": None, "min_ess_bulk": None, "divergences": None,
                    "passed": None, "per_model": None},
    "data_quality": None,
}

FUNNEL = {
    "schema_version": None, "n_leads": None, "n_leads_with_events": None,
    "n_events_raw": None, "n_events_distinct": None,
    "conversion_to_opportunity": {"rate": None, "n": None},
    "at_or_beyond_stage": {"1": None, "2": None, "3": None, "4": None, "5": None},
    "mean_interactions_by_status": None, "mean_interactions_by_industry": None,
    "stage3_to_4_by_industry": None, "top_journeys": None,
    "heuristics": {"model": None, "auc": None, "top_predictors": None},
}


def missing_keys(document: dict, spec: dict = RESULTS, *, prefix: str = "") -> list[str]:
    """Key paths of `spec` absent from `document` (nested blocks that are null are allowed)."""
    missing: list[str] = []
    for key, sub in spec.items():
        path = f"{prefix}{key}"
        if key not in document:
            missing.append(path)
            continue
        value: Any = document[key]
        if isinstance(sub, dict) and value is not None:
            if not isinstance(value, dict):
                missing.append(f"{path} (not an object)")
            else:
                missing.extend(missing_keys(value, sub, prefix=f"{path}."))
    return missing


# ----------------------------------------------------------------- typed results.json
# The same document as typed blocks (bayes_ab.results): what the pipeline assembles and
# what the analyze report reads. ``AnalysisResults.from_dict`` reads a results.json back
# (also one written by an older version: a block of an unexpected shape is kept as it is).


def _typed():
    """The result classes (imported late: the models import PyMC-free modules only, but
    ``import bayes_ab.results_schema`` stays cheap)."""
    from bayes_ab.models.arm_comparison import ArmComparisonResult
    from bayes_ab.models.completions_conversion import CompletionsConversionResult
    from bayes_ab.models.help_completion import HelpCompletionResult
    from bayes_ab.models.causal_cs_effect import CausalCsEffectResult
    from bayes_ab.models.time_to_completion import TimeToCompletionResult
    from bayes_ab.models.time_and_experience import TimeAndExperienceResult

    return (ArmComparisonResult, CompletionsConversionResult, HelpCompletionResult,
            CausalCsEffectResult, TimeToCompletionResult, TimeAndExperienceResult)


def _read(cls, value):
    """``cls.from_dict(value)`` for a JSON object, else the value as it is (None, or an older
    shape the report still reads)."""
    return cls.from_dict(value) if isinstance(value, dict) else value


@dataclass(frozen=True)
class SrmCheck(Result):
    """results.json ``srm``: the sample-ratio check, and whether the split can be judged at all
    (with fewer than 5 expected customers in an arm it cannot, and is never a mismatch)."""

    expected_test_share: float
    observed_test_share: float
    p_value: float
    mismatch: bool
    judgeable: bool


@dataclass(frozen=True)
class HelpChannels(Result):
    """results.json ``help_channels``: completion by channel, time to completion, and the
    instrumental-variable estimate, written as ``causal_effect`` (its LATE) and
    ``causal_effect_details`` (the rest; absent when the model was not estimated)."""

    completion: HelpCompletionResult | None = None
    time_to_completion: TimeToCompletionResult | None = None
    iv: CausalCsEffectResult | None = None

    json_fields: ClassVar = ("completion", "time_to_completion", "causal_effect",
                             "causal_effect_details")
    json_omit_none: ClassVar = frozenset({"causal_effect_details"})

    @property
    def causal_effect(self) -> Interval | None:
        return None if self.iv is None else self.iv.causal_effect

    @property
    def causal_effect_details(self) -> dict[str, Any] | None:
        if self.iv is None:
            return None
        return {k: v for k, v in self.iv.to_dict().items() if k != "causal_effect"}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HelpChannels:
        _, _, completion_cls, iv_cls, survival_cls, _ = _typed()
        causal, details = data.get("causal_effect"), data.get("causal_effect_details")
        iv = None
        if isinstance(causal, dict) or isinstance(details, dict):
            iv = iv_cls.from_dict({**(details if isinstance(details, dict) else {}),
                                   "causal_effect": causal})
        return cls(completion=_read(completion_cls, data.get("completion")),
                   time_to_completion=_read(survival_cls, data.get("time_to_completion")),
                   iv=iv)


@dataclass(frozen=True)
class AnalysisResults(Result):
    """The whole results.json of `bayes-ab analyze` (RESULTS). Blocks with a result class are
    typed; the others (input, diagnostics, decision, ratio metrics, segments, prior
    sensitivity, forensics, ...) stay plain mappings. A key that a results.json lacks (an older
    version) is None here and is not written back."""

    schema_version: str | None = None
    input: Mapping[str, Any] | None = None
    srm: SrmCheck | Mapping[str, Any] | None = None
    conversion: ArmComparisonResult | None = None
    cs_engagement: ArmComparisonResult | None = None
    help_channels: HelpChannels | None = None
    completions_conversion: CompletionsConversionResult | None = None
    time_and_experience: TimeAndExperienceResult | None = None
    data_quality: list | None = None
    diagnostics: Mapping[str, Any] | None = None
    decision: Mapping[str, Any] | None = None
    agreement: Mapping[str, Any] | None = None
    prior_sensitivity: Mapping[str, Any] | None = None
    ratio_metrics: Mapping[str, Any] | None = None
    segments: Mapping[str, Any] | None = None
    forensics: Mapping[str, Any] | None = None
    timing_seconds: Mapping[str, Any] | None = None
    sampler: Mapping[str, Any] | None = None
    #: The keys the document has (an older results.json lacks some): ``"segments" in r``.
    present: frozenset = frozenset()

    json_fields: ClassVar = ("schema_version", "input", "srm", "conversion", "cs_engagement",
                             "help_channels", "completions_conversion", "time_and_experience",
                             "data_quality", "diagnostics", "decision", "agreement",
                             "prior_sensitivity", "ratio_metrics", "segments", "forensics",
                             "timing_seconds", "sampler")

    def __contains__(self, key: object) -> bool:
        return key in self.present

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisResults:
        if isinstance(data, AnalysisResults):
            return data
        arm_cls, cc_cls, _, _, _, te_cls = _typed()
        hc = data.get("help_channels")
        return cls(
            schema_version=data.get("schema_version"), input=data.get("input"),
            srm=_read(SrmCheck, data.get("srm")),
            conversion=_read(arm_cls, data.get("conversion")),
            cs_engagement=_read(arm_cls, data.get("cs_engagement")),
            help_channels=HelpChannels.from_dict(hc) if isinstance(hc, dict) else hc,
            completions_conversion=_read(cc_cls, data.get("completions_conversion")),
            time_and_experience=_read(te_cls, data.get("time_and_experience")),
            **{k: data.get(k) for k in ("data_quality", "diagnostics", "decision", "agreement",
                                        "prior_sensitivity", "ratio_metrics", "segments",
                                        "forensics", "timing_seconds", "sampler")},
            present=frozenset(data),
        )
