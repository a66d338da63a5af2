"""Allow ``python -m chatgate``."""

from chatgate.cli import app

app()
