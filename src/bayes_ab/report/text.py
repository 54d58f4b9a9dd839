"""Plain-words sentences and number formats for the report.

Everything here *formats* numbers that are already in results.json; nothing estimates
anything (ARCHITECTURE.md: the report never recomputes a statistic). The only
judgements made here are wording ones: whether an interval excludes zero, whether a
probability is worth calling "clear". Every function accepts ``None`` (a block that was
not estimated) and says so instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from bayes_ab.constants import HDI_PROB

NOT_ESTIMATED = "not estimated"

#: What each success metric means, with its denominator (DATA_CONTRACT.md "Metric definitions").
METRICS: dict[str, dict[str, str]] = {
    "conversion": {
        "label": "Conversion",
        "definition": "customers who converted from trial to subscription within the 30-day trial",
        "denominator": "all randomized customers of the arm (intention to treat), whether or "
                       "not they ever started a task or saw the widget",
        "better": "converts better than",
        "noun": "conversion rate",
    },
    "cs_engagement": {
        "label": "CS engagement",
        "definition": "customers with at least one help request answered through a Customer "
                      "Success channel (article, video, chatbot or agent)",
        "denominator": "all randomized customers of the arm (intention to treat), not only "
                       "those the system flagged as stuck",
        "better": "engages more customers with Customer Success than",
        "noun": "CS engagement rate",
    },
}

#: Short explanations shown at the end of the report.
GLOSSARY: tuple[tuple[str, str], ...] = (
    ("Posterior", "What we believe about a quantity after seeing the data, as a probability "
                  "distribution. Its mean is the single best guess."),
    ("95% HDI (highest-density interval)", "The narrowest range that holds 95% of the posterior: "
     "given the model and the data, there is a 95% probability that the true value lies in it."),
    ("Probability that Test is better", "The share of the posterior in which Test's rate is above "
     "Control's. 50% means no idea; values near 100% (or 0%) mean a clear winner."),
    ("Lift", "Test minus Control. Absolute lift is in percentage points (pp); relative lift is "
             "the absolute lift divided by Control's rate."),
    ("Expected loss", "For each action, how much of the metric we give up on average over the whole "
     "posterior, counting zero where the action is the right one: E[max(0, Control - Test)] for "
     "doubling down, E[max(0, Test - Control)] for pivoting. It equals the probability that the "
     "action is wrong times the average shortfall if it is wrong (the \"loss if wrong\", shown "
     "beside it), so a small chance of a small mistake costs little."),
    ("Threshold of caring", "The largest expected loss we are willing to accept. An action whose "
     "expected loss is below it is safe to take; if neither action is, we keep testing."),
    ("p-value", "How surprising the observed difference would be if the two arms were truly "
     "identical. Below 0.05 is called significant at 95% confidence."),
    ("Holm adjustment", "A correction of the p-values for testing several success metrics at once, "
     "so that the chance of any false alarm stays at 5%."),
    ("95% confidence interval", "The frequentist range for the difference: built so that 95% of "
     "such intervals, over repeated experiments, contain the true difference."),
    ("Sample-ratio mismatch (SRM)", "A check that the share of customers in Test matches the design "
     "(30%). A mismatch points to a broken assignment or lost data and undermines every result."),
    ("r-hat, ESS, divergences", "Health checks of the sampler that computed the posteriors. r-hat "
     "near 1, a large effective sample size (ESS) and no divergences mean the numbers can be "
     "trusted."),
    ("Hazard ratio", "How much faster one group completes than another at any moment: 2 means "
     "twice the completion rate, 1 means no difference."),
    ("Compliers / causal effect", "Customers who pick CS only because the widget invited them. "
     "The random assignment lets us estimate the effect of CS for them, free of the self-selection "
     "that biases a naive CS-vs-OTHER comparison."),
    ("Ratio metric, delta method", "A metric that is a sum divided by another sum (CS contacts "
     "per flagged customer, minutes per completed task), compared with the randomized customer "
     "as the unit. The delta method is the standard frequentist test for such ratios."),
    ("Partial pooling", "Estimating every segment's lift together: a small segment's noisy lift "
     "is pulled toward the overall lift, by as much as the data say segments really differ. It "
     "avoids the chance 'discoveries' of one test per segment."),
    ("Prior sensitivity", "The same analysis rerun with a weaker and a stronger prior. If the "
     "conclusion holds under both, the data, not the prior, drive it."),
)


# ------------------------------------------------------------------------------ numbers


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _decimals_for(x: float, *, minimum: int, sig: int = 2) -> int:
    """Enough decimals to show ``sig`` significant digits of a small number."""
    if x == 0 or abs(x) >= 1:
        return minimum
    return max(minimum, sig - 1 - int(math.floor(math.log10(abs(x)))))


def pct(x, *, digits: int = 1, signed: bool = False) -> str:
    """A proportion as a percentage: 0.1234 -> '12.3%'."""
    if not is_finite_number(x):
        return NOT_ESTIMATED
    return f"{x * 100:{'+' if signed else ''}.{_decimals_for(x * 100, minimum=digits)}f}%"


def rel(x) -> str:
    """A relative lift: 0.175 -> '+17.5%'."""
    return pct(x, signed=True)


def pp(x, *, digits: int = 2, signed: bool = True) -> str:
    """A difference of proportions in percentage points: 0.0123 -> '+1.23 pp'."""
    if not is_finite_number(x):
        return NOT_ESTIMATED
    d = _decimals_for(x * 100, minimum=digits)
    return f"{x * 100:{'+' if signed else ''}.{d}f} pp"


def num(x, *, digits: int = 2, signed: bool = False) -> str:
    """A plain number with at least two significant digits."""
    if not is_finite_number(x):
        return NOT_ESTIMATED
    d = _decimals_for(x, minimum=digits)
    return f"{x:{'+' if signed else ''},.{d}f}"


def count(x) -> str:
    if x is None or isinstance(x, bool):
        return NOT_ESTIMATED
    try:
        return f"{int(x):,}"
    except (TypeError, ValueError):
        return str(x)


def prob(p) -> str:
    """A probability in words-friendly percent, never a false '100%' or '0%'."""
    if not is_finite_number(p):
        return NOT_ESTIMATED
    if p > 0.999:
        return "more than 99.9%"
    if p < 0.001:
        return "less than 0.1%"
    if 0.99 < p or p < 0.01:
        return f"{p * 100:.1f}%"
    return f"{p * 100:.0f}%"


def prob_1dp(p) -> str:
    """A probability to one decimal of a percent (1.7%, 98.3%), never a false '100%'."""
    if not is_finite_number(p) or p > 0.999 or p < 0.001:
        return prob(p)
    return pct(p, digits=1)


def p_value(p) -> str:
    if not is_finite_number(p):
        return NOT_ESTIMATED
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}"


def p_equals(p) -> str:
    """'p = 0.006' or 'p < 0.001' for use inside a sentence."""
    text = p_value(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def yes_no(flag) -> str:
    if flag is None:
        return NOT_ESTIMATED
    return "yes" if flag else "no"


def mass_label(iv: Mapping | None, *, kind: str = "HDI") -> str:
    mass = (iv or {}).get("prob", HDI_PROB) or HDI_PROB
    return f"{mass * 100:g}% {kind}"


def interval(iv: Mapping | None, fmt=pct, *, kind: str = "HDI") -> str:
    """'12.3% (95% HDI 11.0% to 13.6%)'; 'not estimated' for a missing interval."""
    if not iv or not is_finite_number(iv.get("mean")):
        return NOT_ESTIMATED
    bounds = ""
    if is_finite_number(iv.get("lower")) and is_finite_number(iv.get("upper")):
        bounds = f" ({mass_label(iv, kind=kind)} {fmt(iv['lower'])} to {fmt(iv['upper'])})"
    return f"{fmt(iv['mean'])}{bounds}"


def bounds(iv: Mapping | None, fmt=pct) -> str:
    """Only the bounds: '11.0% to 13.6%'."""
    if not iv or not (is_finite_number(iv.get("lower")) and is_finite_number(iv.get("upper"))):
        return NOT_ESTIMATED
    return f"{fmt(iv['lower'])} to {fmt(iv['upper'])}"


def excludes(iv: Mapping | None, value: float = 0.0) -> bool | None:
    """Whether the interval lies entirely on one side of ``value`` (None when missing)."""
    if not iv or not (is_finite_number(iv.get("lower")) and is_finite_number(iv.get("upper"))):
        return None
    return bool(iv["lower"] > value or iv["upper"] < value)


# ---------------------------------------------------------------------------- sentences


def metric_info(metric: str) -> dict[str, str]:
    if metric in METRICS:
        return METRICS[metric]
    label = metric.replace("_", " ")
    return {
        "label": label[:1].upper() + label[1:],
        "definition": f"rows whose '{metric}' outcome is 1 (true)",
        "denominator": "all rows of the arm",
        "better": f"has a higher {label} rate than",
        "noun": f"{label} rate",
    }


def probability_sentence(p, *, metric: str, test: str = "Test", control: str = "Control") -> str:
    """'There is a 97% probability that Test converts better than Control.'"""
    if not is_finite_number(p):
        return f"The probability that {test} is better than {control} was not estimated."
    better = metric_info(metric)["better"]
    if p > 0.999 or p < 0.001:
        return f"The probability that {test} {better} {control} is {prob(p)}."
    text = f"There is a {prob(p)} probability that {test} {better} {control}"
    if p < 0.5:
        text += f" (so a {prob(1 - p)} probability that it does not)"
    return text + "."


def bayes_verdict(block: Mapping) -> str | None:
    """'positive' / 'negative' when the lift's HDI excludes zero, 'unclear' otherwise."""
    ex = excludes(block.get("lift_abs"))
    if ex is None:
        return None
    if not ex:
        return "unclear"
    return "positive" if block["lift_abs"]["mean"] > 0 else "negative"


def agreement_sentence(block: Mapping, *, metric: str, test: str = "Test",
                       control: str = "Control") -> str:
    """How the Bayesian and frequentist answers agree or why they differ."""
    freq = block.get("frequentist") or {}
    sig = freq.get("significant_95")
    verdict = bayes_verdict(block)
    label = metric_info(metric)["noun"]
    if verdict is None or sig is None:
        return "Only one of the two analyses is available, so they cannot be compared."
    p_shown = freq.get("p_value_holm", freq.get("p_value"))
    p_text = p_equals(p_shown) + (" after the Holm adjustment"
                                         if freq.get("p_value_holm") is not None else "")
    if verdict != "unclear" and sig:
        direction = "higher" if verdict == "positive" else "lower"
        return (f"Both analyses agree: {test}'s {label} is {direction} than {control}'s. The 95% "
                f"HDI of the lift excludes zero and the difference is significant at 95% "
                f"confidence ({p_text}).")
    if verdict == "unclear" and not sig:
        return (f"Both analyses agree that the data do not establish a difference in {label}: "
                f"the 95% HDI of the lift includes zero and the difference is not significant "
                f"at 95% confidence ({p_text}).")
    if sig:
        return (f"They differ at the margin: the frequentist test calls the difference "
                f"significant ({p_text}) while the 95% HDI of the lift still includes zero. "
                f"The evidence is borderline; the prior and the interval method (HDI vs "
                f"Newcombe) tip it either way.")
    return (f"They differ at the margin: the 95% HDI of the lift excludes zero, but the "
            f"frequentist test is not significant ({p_text}). The Holm adjustment for testing "
            f"several metrics makes the frequentist bar stricter; treat the effect as probable, "
            f"not established.")


ACTIONS = {
    "double_down": ("Double down", "make the Test experience the default for everyone"),
    "pivot": ("Pivot", "switch the Test experience off and keep the default (Control)"),
    "keep_testing": ("Keep testing", "neither action is safe yet; collect more data before "
                                     "deciding"),
}


def recommendation_headline(decision: Mapping | None, *, test: str = "Test",
                            control: str = "Control") -> str:
    if not decision or decision.get("recommendation") not in ACTIONS:
        return "No recommendation: the decision was not estimated."
    name, what = ACTIONS[decision["recommendation"]]
    if decision["recommendation"] == "double_down" and test != "Test":
        what = f"ship {test} in place of {control}"
    if decision["recommendation"] == "pivot" and test != "Test":
        what = f"drop {test} and keep {control}"
    return f"{name}: {what}."


def expected_loss_sentences(decision: Mapping | None, *, test: str = "Test",
                            control: str = "Control") -> list[str]:
    """The expected losses and threshold, in the metric's units, with what they mean."""
    if not decision:
        return []
    metric = decision.get("metric") or "conversion"
    noun = metric_info(metric)["noun"]
    loss = decision.get("expected_loss") or {}
    rel = decision.get("expected_loss_relative") or {}
    thr = decision.get("threshold_of_caring")
    out = []
    dd, pv = loss.get("double_down"), loss.get("pivot")

    def with_rel(key: str, value) -> str:
        text = f"{pp(value, signed=False)} of {noun}"
        if is_finite_number(rel.get(key)):
            text += f" ({pct(rel[key], digits=2)} of {control}'s rate)"
        return text

    wrong = decision.get("expected_loss_if_wrong") or {}
    p_wrong = decision.get("prob_wrong") or {}

    def given_wrong(key: str, who: str) -> str:
        if not (is_finite_number(p_wrong.get(key)) and is_finite_number(wrong.get(key))):
            return ""
        return (f" {test} is {who} with probability {prob_1dp(p_wrong[key])}, and if it is, "
                f"by {pp(wrong[key], signed=False)} on average.")

    out.append(
        f"Judged on the {noun}: doubling down has an expected loss of "
        f"{with_rel('double_down', dd)}, averaged over the whole posterior and counting zero "
        f"where {test} is in fact at least as good.{given_wrong('double_down', 'worse')} "
        f"Pivoting has an expected loss of {with_rel('pivot', pv)}."
        f"{given_wrong('pivot', 'better')}"
    )
    if is_finite_number(thr):
        out.append(
            f"The threshold of caring is {pp(thr, signed=False)}: an expected loss below it is "
            f"too small to matter, so the action is safe to take."
        )
    out.append(
        "Expected loss = how much of the metric we give up on average over everything the data "
        "leave possible, counting zero where the action is right: the probability of being wrong "
        "times the average shortfall when wrong. It is not the loss if the action is wrong."
    )
    if is_finite_number(decision.get("prob_test_better")):
        out.append(probability_sentence(decision["prob_test_better"], metric=metric, test=test,
                                        control=control))
    if decision.get("reason"):
        out.append(str(decision["reason"]))
    extra = decision.get("extra_samples_needed")
    if decision.get("recommendation") == "keep_testing" and extra is not None:
        if isinstance(extra, Mapping):
            parts = [f"{count(v)} in {k}" for k, v in extra.items()]
            out.append("About " + ", ".join(parts) + " more customers are needed to decide.")
        else:
            out.append(f"About {count(extra)} more customers are needed to decide.")
    return out


def decision_extras(decision: Mapping | None, *, test: str = "Test") -> list[str]:
    """ROPE, non-inferiority, money and CS-cost lines, when the decision has them."""
    if not decision:
        return []
    out = []
    rope = decision.get("rope")
    if isinstance(rope, Mapping) and is_finite_number(rope.get("half_width")):
        verdict = ("so there is no meaningful difference: stop testing"
                   if rope.get("practically_equivalent") else
                   f"short of the {prob(rope.get('required_prob'))} needed to call it no "
                   f"meaningful difference")
        out.append(f"Region of practical equivalence: a difference smaller than "
                   f"{pp(rope['half_width'], signed=False)} does not matter; the probability "
                   f"that the true difference is that small is {prob(rope.get('prob_inside'))}, "
                   f"{verdict}.")
    ni = decision.get("non_inferiority")
    if isinstance(ni, Mapping) and is_finite_number(ni.get("margin")):
        out.append(f"Non-inferiority: the probability that Test is not worse than Control by "
                   f"more than {pp(ni['margin'], signed=False)} is "
                   f"{prob(ni.get('prob_non_inferior'))} (needed: {prob(ni.get('required_prob'))})"
                   f": {'non-inferior' if ni.get('non_inferior') else 'not shown'}.")
    money = decision.get("money")
    if isinstance(money, Mapping) and is_finite_number(money.get("double_down")):
        cur = str(money.get("currency") or "")
        out.append(f"In money ({cur}, {num(money.get('customers'), digits=0)} customer(s)): "
                   f"expected loss of doubling down {num(money['double_down'])} {cur}, of "
                   f"pivoting {num(money.get('pivot'))} {cur}.")
    out += cs_cost_sentences(decision.get("cs_cost"), test=test)
    return out


def cs_cost_sentences(cs: Mapping | None, *, test: str = "Test") -> list[str]:
    """What doubling down gains in conversion against the CS engagement it adds
    (``decision.cs_cost``): the break-even cost of a CS contact and, with revenue and cost,
    the net value per customer."""
    if not isinstance(cs, Mapping) or not isinstance(cs.get("cs_engagement_lift"), Mapping):
        return []
    d_cs, d_conv = cs["cs_engagement_lift"], cs.get("conversion_lift")
    p_up = cs.get("prob_cs_engagement_up")
    out = [f"The recommendation is judged on conversion alone; {test} also changes CS "
           f"engagement by {interval(d_cs, pp)} while it changes conversion by "
           f"{interval(d_conv, pp)}, and CS help costs money."]
    rev, cost, cur = cs.get("revenue_per_conversion"), cs.get("cost_per_cs_contact"), \
        str(cs.get("currency") or "")
    ratio, of_means = cs.get("conversions_per_cs_customer"), \
        cs.get("conversions_per_cs_customer_of_means")

    def money(x) -> str:
        return f"{num(x)} {cur}".strip()

    if is_finite_number(p_up) and p_up <= 0.025:
        out.append(f"{test} lowers CS engagement, so at any cost per CS contact the CS cost "
                   f"favours doubling down.")
    elif not (is_finite_number(p_up) and p_up >= 0.975):
        out.append(f"The CS-engagement lift is not clearly away from zero (probability "
                   f"{prob(p_up)} that it is positive), so the break-even cost of a CS contact "
                   f"is not defined.")
    elif isinstance(ratio, Mapping) and is_finite_number(of_means):
        text = (f"{test} gains {num(of_means)} conversions per additional CS-engaged customer "
                f"(ratio of the two lifts of {test}, not the effect of CS help itself; posterior "
                f"of the ratio {interval(ratio, num)}). On expectation, doubling down stops "
                f"paying once one more CS-engaged customer costs more than {num(of_means)} "
                f"times the revenue of a conversion")
        be = cs.get("break_even_cost_per_cs_contact")
        if is_finite_number(rev) and isinstance(be, Mapping):
            text += (f": {money(cs.get('break_even_cost_per_cs_contact_of_means'))} at "
                     f"{money(rev)} per conversion (posterior {interval(be, money)})")
        out.append(text + ".")
    net = cs.get("net_value_per_customer")
    if isinstance(net, Mapping) and is_finite_number(net.get("mean")):
        loss = cs.get("expected_loss_net") or {}
        out.append(f"With {money(rev)} per conversion and {money(cost)} per CS-engaged "
                   f"customer, the net value per customer of doubling down is "
                   f"{interval(net, money)}, positive with probability "
                   f"{prob(cs.get('prob_net_value_positive'))}; expected loss in net value "
                   f"per customer: doubling down {money(loss.get('double_down'))}, pivoting "
                   f"{money(loss.get('pivot'))}.")
    elif is_finite_number(cost) and not is_finite_number(rev):
        out.append("A cost per CS contact without a revenue per conversion gives no net value: "
                   "set both.")
    return out


def srm_sentence(srm: Mapping | None) -> str:
    if not srm:
        return "The sample-ratio check was not run."
    exp, obs = srm.get("expected_test_share"), srm.get("observed_test_share")
    if srm.get("judgeable") is False:
        return (f"The design put {pct(exp)} of customers in Test; {pct(obs)} were observed, "
                "but there are too few customers to judge the split (the chi-square check "
                "needs at least 5 expected customers in each arm).")
    text = (f"The design put {pct(exp)} of customers in Test; {pct(obs)} were observed "
            f"(chi-square test, {p_equals(srm.get('p_value'))}).")
    if srm.get("mismatch"):
        return text + (" This is a sample-ratio mismatch: the assignment or the data export is "
                       "likely broken, and every comparison below is suspect until it is "
                       "explained.")
    return text + " The split matches the design: no sign of a broken assignment."


# ------------------------------------------------------------------------- ratio metrics

#: Ratio metrics analyze reports (pipeline.RATIO_METRICS), in plain words. ``better`` says
#: which direction is good, ``good``/``bad`` finish "Test's customers ..." sentences.
RATIO_METRICS: dict[str, dict[str, str]] = {
    "cs_contacts_per_flagged_customer": {
        "label": "CS contacts per flagged customer",
        "better": "more CS help per stuck customer is better",
        "good": "take more Customer Success help when stuck",
    },
    "help_flags_per_customer": {
        "label": "Help flags per customer",
        "better": "fewer help flags is better",
        "good": "get stuck less often",
    },
    "minutes_per_completed_task": {
        "label": "Minutes per completed task",
        "better": "less time per completed task is better",
        "good": "complete their tasks faster",
    },
}


def ratio_info(name: str, *, higher_is_better: bool | None = True) -> dict[str, str]:
    """Label and direction words of a ratio metric (generic words for unknown names)."""
    known = RATIO_METRICS.get(name)
    if known:
        return known
    label = str(name).replace("_", " ").replace("/", " / ")
    label = " ".join(label.split())
    label = label[:1].upper() + label[1:]
    higher = higher_is_better is not False
    return {"label": label,
            "better": "higher is better" if higher else "lower is better",
            "good": f"score {'higher' if higher else 'lower'} on {lower_first(label)}"}


def ratio_formatter(scale, *, signed: bool = False):
    """A formatter with the decimals of the metric's scale (control's ratio): 0.257 and
    its differences to three decimals, 41.5 minutes and its differences to one."""
    decimals = 1 if not is_finite_number(scale) or abs(scale) >= 10 else _decimals_for(
        scale, minimum=2, sig=3)

    def fmt(x) -> str:
        if not is_finite_number(x):
            return NOT_ESTIMATED
        return f"{x:{'+' if signed else ''},.{decimals}f}"

    return fmt


def lower_first(label: str) -> str:
    """'Help flags' -> 'help flags', but 'CS contacts' stays (an acronym)."""
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def column_words(column: str) -> str:
    """A data column's name as words: 'join_period' -> 'join period'."""
    return str(column).replace("_", " ")


def ratio_sentence(block: Mapping, *, name: str, test: str = "Test",
                   control: str = "Control") -> str:
    """'Help flags per customer: Test 0.588 vs Control 0.573 (fewer help flags is better).
    There is a 6% probability that Test's customers get stuck less often: ...'"""
    info = ratio_info(name, higher_is_better=block.get("higher_is_better"))
    c = (block.get("control") or {}).get("mean")
    t = (block.get("test") or {}).get("mean")
    fmt = ratio_formatter(c)
    text = f"{info['label']}: {test} {fmt(t)} vs {control} {fmt(c)} ({info['better']}). "
    p = block.get("prob_test_better")
    if not is_finite_number(p):
        text += f"The probability that {test}'s customers {info['good']} was not estimated"
    elif p > 0.999 or p < 0.001:
        text += f"The probability that {test}'s customers {info['good']} is {prob(p)}"
    else:
        text += f"There is a {prob(p)} probability that {test}'s customers {info['good']}"
    lift = block.get("lift_abs")
    ex = excludes(lift)
    higher = block.get("higher_is_better") is not False
    if ex is None:
        return text + "."
    if not ex:
        verdict = "the data do not establish a difference"
    else:
        good = (lift["mean"] > 0) == higher
        verdict = (f"{test} is credibly better on this metric" if good
                   else f"{test} is credibly worse on this metric")
    sig = (block.get("frequentist") or {}).get("significant_95")
    freq = ("" if sig is None else
            " (the delta-method test agrees)" if bool(sig) == bool(ex) else
            " (the delta-method test disagrees: the evidence is borderline)")
    return text + f"; {verdict}{freq}."


# ------------------------------------------------------------------------------ segments

POOLING_WHY = (
    "Why partial pooling: one significance test per segment gives every segment its own "
    "chance of a false alarm, so with many segments some 'winner' or 'loser' turns up by "
    "luck alone; the pooled model pulls each segment's noisy lift toward the overall lift, "
    "by as much as the data say segments really differ, so a segment is flagged only when "
    "it stands out from all the others together."
)


def segment_verdict(block: Mapping, *, test: str = "Test") -> str:
    """Which segments credibly differ from the overall lift (usually none)."""
    flagged = list(block.get("flagged") or [])
    column = column_words(block.get("column") or "segment")
    n = block.get("n_segments")
    if not flagged:
        return (f"None of the {count(n)} segments by {column} credibly differs from the overall "
                f"lift: as far as the data can tell, no group of customers reacts differently "
                f"to {test}.")
    names = ", ".join(str(s) for s in flagged)
    return (f"{len(flagged)} of the {count(n)} segments by {column} credibly differ from the "
            f"overall lift: {names}. Check that the difference makes sense (a known cause, a "
            f"large segment) before acting on it.")


def segment_srm_sentence(srm: Mapping | None, *, test: str = "Test") -> str:
    if not srm:
        return "The per-segment sample-ratio check was not run."
    per = srm.get("per_segment") or {}
    flagged = list(srm.get("flagged") or [])
    exp = srm.get("expected_test_share")
    alpha = srm.get("alpha")
    rule = f"Holm-adjusted p < {alpha:g}" if is_finite_number(alpha) else "Holm-adjusted p"
    if flagged:
        return (f"Sample-ratio check per segment: {test}'s share departs from {pct(exp)} in "
                f"{', '.join(map(str, flagged))} ({rule}); the assignment or the data of "
                f"that segment may be broken, so its lift is suspect.")
    return (f"Sample-ratio check per segment: every one of the {count(len(per))} segments has "
            f"a {test} share consistent with {pct(exp)} (none at {rule}).")


# ------------------------------------------------------------------------ prior sensitivity


def sensitivity_value(v, *, quantity: str = "") -> str:
    """A prior-sensitivity cell: an interval, a probability, a number or a word. The units
    are the quantity's own (the block does not name them), so numbers are shown plainly."""
    def three(x) -> str:
        return num(x, digits=3)

    if isinstance(v, Mapping):
        return interval(v, three)
    if isinstance(v, bool):
        return yes_no(v)
    if is_finite_number(v):
        return prob(v) if str(quantity).startswith("prob") else three(v)
    return NOT_ESTIMATED if v is None else str(v)
