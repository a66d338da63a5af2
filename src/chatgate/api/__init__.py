"""The HTTP API: ``create_app(settings)``, auth and rate-limit dependencies, ``/v1`` routes."""
