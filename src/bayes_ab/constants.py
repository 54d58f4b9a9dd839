"""Module-wide constants. One credible-interval mass is used everywhere."""

#: Mass of every highest-density interval (posterior) and confidence level (frequentist).
HDI_PROB = 0.95

#: Design split of the help-widget experiment (share of customers in Test).
DESIGN_TEST_SHARE = 0.30

ARMS = ("Control", "Test")
CHANNELS = ("CS", "OTHER")
TASKS = (1, 2, 3)
CS_TYPES = ("article", "video", "chatbot", "agent")

#: Diagnostic gates (DEVELOPERS.md): a model failing any of them is flagged, never silently published.
MAX_R_HAT = 1.01
MIN_ESS_BULK = 400
MAX_DIVERGENCES = 0

#: Version of the results.json / funnel.json layout (shared/design/RESULTS_SCHEMA.md).
SCHEMA_VERSION = 1
