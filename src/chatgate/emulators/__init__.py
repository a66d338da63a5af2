"""Faithful local emulators of the platforms, served by ``chatgate emulate``."""
