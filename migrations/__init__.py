"""framedb's Alembic environment; installed inside the wheel as `framedb.migrations`."""
