"""Persistence: tables, the database handle and one query module per aggregate."""
