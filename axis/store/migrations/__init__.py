"""Alembic migrations of the axis schema (run them with ``axis init``)."""
