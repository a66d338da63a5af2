"""Alembic migrations of Chatgate's schema (run with ``chatgate migrate``)."""
