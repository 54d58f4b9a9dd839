"""The command-line interface: `bayes-ab` (main) and its commands."""
from bayes_ab.cli.main import main

__all__ = ["main"]
