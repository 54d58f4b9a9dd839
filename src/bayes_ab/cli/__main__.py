"""`python -m bayes_ab.cli`: the same as `bayes-ab`."""
import sys

from bayes_ab.cli.main import main

sys.exit(main())
