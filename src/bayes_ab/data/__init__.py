"""Data: the contract's schema, loaders and validation (the simulator is `bayes_ab.simulate`)."""
