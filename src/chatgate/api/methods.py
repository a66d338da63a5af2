"""Which methods each path has, so that a wrong method gets 405 and a complete ``Allow``.

Starlette answers a wrong method from the first route whose path matches, so ``Allow``
named only that route's methods (``POST`` on ``/v1/messages``, which has ``GET`` too). And
a path template also matches the fixed paths beside it: ``GET /v1/messages/batch`` reached
``GET /v1/messages/{message_id}`` and failed as a bad message id. Here, as in OpenAPI, a
fixed path wins over a template, and ``Allow`` lists every method of the path.

It also knows which of a path's methods take an API key, so that the middleware can
authenticate those before anything reads the body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.routing import BaseRoute, Route


@dataclass(frozen=True, slots=True)
class Methods:
    """The methods of one path, and those of them whose route takes an API key."""

    allowed: frozenset[str]
    keyed: frozenset[str]

    def __or__(self, other: Methods) -> Methods:
        return Methods(self.allowed | other.allowed, self.keyed | other.keyed)


@dataclass(frozen=True, slots=True)
class _Path:
    regex: re.Pattern[str]
    fixed: bool
    methods: Methods


_NONE = Methods(frozenset(), frozenset())


class PathMethods:
    """The methods of every routed path."""

    def __init__(
        self, routes: Iterable[BaseRoute], takes_key: Callable[[BaseRoute], bool] | None = None
    ) -> None:
        """``takes_key`` says which routes authenticate with an API key (none if not given)."""
        by_path: dict[str, _Path] = {}
        for route in routes:
            if not isinstance(route, Route) or not route.methods:
                continue
            known = by_path.get(route.path)
            own = frozenset(route.methods)
            keyed = own if takes_key is not None and takes_key(route) else frozenset()
            methods = Methods(own, keyed) | (known.methods if known else _NONE)
            by_path[route.path] = _Path(route.path_regex, not route.param_convertors, methods)
        self._paths = list(by_path.values())
        # Most requests are to a fixed path, which wins over every template: found at once.
        self._fixed = {path: entry.methods for path, entry in by_path.items() if entry.fixed}

    def of(self, path: str) -> Methods | None:
        """The methods ``path`` has, or ``None`` when no route has that path."""
        fixed = self._fixed.get(path)
        if fixed is not None:
            return fixed
        matching = [entry for entry in self._paths if entry.regex.match(path)]
        chosen = [entry for entry in matching if entry.fixed] or matching
        if not chosen:
            return None
        found = _NONE
        for entry in chosen:
            found |= entry.methods
        return found
