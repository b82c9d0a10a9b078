"""Redis, the system of record: every key lives under one configurable prefix."""
