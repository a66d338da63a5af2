"""Who is behind a request, for the audit log."""

from __future__ import annotations

from fastapi import Request

from chatgate.domain.records import ApiKey
from chatgate.services.audit import Actor


def client_ip(request: Request) -> str | None:
    """The address the request came from (the peer; proxies are not trusted here)."""
    return request.client.host if request.client else None


def actor_of(request: Request, key: ApiKey) -> Actor:
    """The key acting through ``request``, and from where."""
    return Actor.of(key, client_ip(request))
