"""Chatgate: a self-hostable messaging gateway with one API for every chat platform."""

__version__ = "0.1.0"
