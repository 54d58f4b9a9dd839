"""The `names_vs_emails` check.

Do person names belong to the e-mails beside them, or were they substituted?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayes_ab.forensics.base import CheckResult, Hint
from bayes_ab.forensics.inputs import Inputs


def check_person_names(names: pd.Series, emails: pd.Series, *, table: str) -> CheckResult:
    names = names.astype(str).str.strip()
    emails = emails.astype(str).str.strip().str.lower()
    tidy = float(names.str.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+").mean())
    hashed = float(emails.str.fullmatch(r"[0-9a-f]{32}").mean())
    if hashed > 0.9:
        return CheckResult("names_vs_emails", table, hashed, "share_hashed_emails", None, tidy,
                           "anonymised", "none",
                           f"{hashed:.1%} of e-mails are 32-hex MD5 digests and {tidy:.1%} of "
                           "names are a tidy 'First Last' pair. Real CRM names are messier "
                           "(initials, lower case, middle names); with hashed e-mails the names "
                           "cannot come from the same record, so they are substitutes.")
    local = emails.str.split("@").str[0]
    first = names.str.split().str[0].str.lower().fillna("")
    last = names.str.split().str[-1].str.lower().fillna("")
    match = float(np.mean([(f and f in e) or (la and la in e)
                           for f, la, e in zip(first, last, local)]))
    hint: Hint = "anonymised" if match < 0.2 and tidy > 0.95 else "neutral"
    return CheckResult("names_vs_emails", table, match, "share_name_in_email", None, tidy, hint,
                       "none",
                       f"{match:.1%} of e-mail local parts contain the person's first or last "
                       f"name; {tidy:.1%} of names are a tidy 'First Last' pair.")


class NamesVsEmails:
    """Do person names belong to the e-mails beside them, or were they substituted?"""

    name = "names_vs_emails"
    kinds = frozenset({"lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return data.kind == "lead_funnel" and data.names is not None

    def run(self, data: Inputs) -> CheckResult:
        return check_person_names(data.names, data.emails, table="leads")
