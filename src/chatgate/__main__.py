"""Allow ``python -m chatgate``."""

from chatgate.cli import main

main()
