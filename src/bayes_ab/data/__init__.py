"""Data: the contract's schema, loaders, validation and the simulator."""
