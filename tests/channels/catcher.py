"""Where an emulator's webhooks go in channel tests: a one-route app that keeps them raw."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response

from chatgate.channels.base import RawRequest


@dataclass
class Catcher:
    """The webhooks the emulator sent to ``path``, as the gateway would receive them."""

    path: str
    requests: list[RawRequest] = field(default_factory=list)

    def app(self) -> FastAPI:
        """A one-route app keeping every webhook's raw bytes and headers."""
        app = FastAPI()

        @app.post(self.path)
        async def catch(request: Request) -> Response:
            self.requests.append(
                RawRequest(
                    method="POST",
                    url=str(request.url),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    query=dict(request.query_params),
                    body=await request.body(),
                )
            )
            return Response(status_code=200)

        return app
