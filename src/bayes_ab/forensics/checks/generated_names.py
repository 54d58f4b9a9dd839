"""The `generated_names` check.

Company names made of lorem-ipsum words: generated placeholders (anonymisation).
"""

from __future__ import annotations

import pandas as pd

from bayes_ab.forensics.base import CheckResult
from bayes_ab.forensics.inputs import Inputs

#: Words of the "lorem ipsum" filler text that name generators (generatedata.com, Faker's
#: lorem provider) build company names from.
LOREM_WORDS = frozenset("""
a ac accumsan ad adipiscing aenean aliquam aliquet amet ante aptent arcu at auctor augue
bibendum blandit class commodo condimentum congue consectetuer consectetur consequat conubia
convallis cras cubilia cum curabitur curae cursus dapibus diam dictum dictumst dignissim dis
dolor donec dui duis efficitur egestas eget eleifend elementum elit enim erat eros est et etiam
eu euismod facilisi facilisis fames faucibus felis fermentum feugiat fringilla fusce gravida
habitant habitasse hac hendrerit himenaeos iaculis id imperdiet in inceptos integer interdum
ipsum justo lacinia lacus laoreet lectus leo libero ligula litora lobortis lorem luctus maecenas
magna magnis malesuada massa mattis mauris metus mi molestie mollis montes morbi mus nam
nascetur natoque nec neque netus nibh nisi nisl non nonummy nostra nulla nullam nunc odio orci
ornare parturient pede pellentesque penatibus per pharetra phasellus placerat platea porta
porttitor posuere potenti praesent pretium primis proin pulvinar purus quam quis quisque
rhoncus ridiculus risus rutrum sagittis sapien scelerisque sed sem semper senectus sit sociis
sociosqu sodales sollicitudin suscipit suspendisse taciti tellus tempor tempus tincidunt
torquent tortor tristique turpis ullamcorper ultrices ultricies urna ut varius vehicula vel
velit venenatis vestibulum vitae vivamus viverra volutpat vulputate
""".split())

#: Legal-form suffixes that company-name generators append (generatedata.com, Faker).
COMPANY_SUFFIXES = frozenset(s.lower() for s in (
    "Inc.", "Inc", "Incorporated", "Corp.", "Corp", "Corporation", "LLC", "LLP", "Ltd", "Ltd.",
    "Limited", "PC", "Company", "Consulting", "Industries", "Institute", "Associates",
    "Foundation", "Group", "PLC", "Sons", "and", "&", "Co", "Co.",
))



def check_company_names(company: pd.Series, *, table: str) -> CheckResult:
    names = company.astype(str).str.strip()
    names = names[names != ""]
    n = len(names)
    if n == 0:
        return CheckResult("generated_names", table, None, "share_lorem", None, None, "neutral",
                           "none", "No company names to check.")
    words = names.str.lower().str.replace(r"[^\w&. ]", "", regex=True).str.split()
    suffix = words.map(lambda w: bool(w) and w[-1] in COMPANY_SUFFIXES)
    core = words.map(lambda w: [x for x in w if x not in COMPANY_SUFFIXES])
    lorem = core.map(lambda w: bool(w) and all(x in LOREM_WORDS for x in w))
    share = float(lorem.mean())
    text = (f"{share:.1%} of {n} company names are made only of lorem-ipsum words "
            f"(+ a legal suffix; {suffix.mean():.1%} end in one), e.g. "
            f"{', '.join(names[lorem.to_numpy()].head(3))}.")
    if share > 0.5:
        return CheckResult("generated_names", table, share, "share_lorem", None, share,
                           "anonymised", "none",
                           text + " These are generated placeholders (generatedata.com style): "
                           "the real names were replaced.")
    return CheckResult("generated_names", table, share, "share_lorem", None, share, "neutral",
                       "none", text + " Names do not look generated.")


class GeneratedNames:
    """Company names made of lorem-ipsum words: generated placeholders (anonymisation)."""

    name = "generated_names"
    kinds = frozenset({"lead_funnel"})

    def applies(self, data: Inputs) -> bool:
        return data.kind == "lead_funnel" and data.companies is not None

    def run(self, data: Inputs) -> CheckResult:
        return check_company_names(data.companies, table="leads")
