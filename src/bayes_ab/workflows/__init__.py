"""workflows: see docs/ARCHITECTURE.md."""
