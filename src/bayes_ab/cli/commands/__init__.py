"""Sub-commands of the `bayes-ab` CLI, one module each (see `bayes_ab.cli.main`)."""
