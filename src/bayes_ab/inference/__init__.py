"""inference: see docs/ARCHITECTURE.md."""
