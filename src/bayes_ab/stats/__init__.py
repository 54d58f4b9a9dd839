"""stats: see docs/ARCHITECTURE.md."""
