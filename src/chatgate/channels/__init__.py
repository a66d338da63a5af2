"""Channel adapters: one module per platform, each translating our messages to its API."""
