"""The aiohttp application: route table, request accounting and REST fault injection.

Every route group contributes ``(method, path, handler)`` rows. The middleware counts
requests per endpoint (and non-200 answers), applies the REST faults (injected statuses,
latency that delays the answer but not the work) and turns exceptions into production's
error shapes; an unexpected exception is a 500, never a dropped connection. It knows no
endpoint's meaning: handlers come from the route groups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .httpkit import MAX_BODY, ApiError, error_response, json_response

if TYPE_CHECKING:
    from .server import SimServer

log = logging.getLogger("bandctl.sim")

Handler = Callable[[web.Request], Awaitable[Any]]
UNFAULTED_PREFIXES = ("/admin", "/ws/")


def injected_error(status: int) -> ApiError:
    if status == 425:
        return ApiError(425, "Too Early")
    if status == 429:
        return ApiError(429, "Too Many Requests", headers={"Retry-After": "1"})
    if status == 503:
        return ApiError(503, "Trading is currently disabled. Check polymarket.com for updates")
    return ApiError(500, "Internal Server Error")


def build_app(server: SimServer, routes: Iterable[tuple[str, str, Handler]]) -> web.Application:
    async def handle(request: web.Request, handler: Handler, name: str) -> Any:
        try:
            delay = 0.0
            if not name.startswith(UNFAULTED_PREFIXES) and name != "<unmatched>":
                delay = server.faults.rest_delay()
                injected = server.faults.rest_status()
                if injected is not None:
                    if delay:
                        await asyncio.sleep(delay)
                    raise injected_error(injected)
            # Injected latency delays the answer, not the work: the request takes effect at
            # once and its response arrives late, the case that makes a client's timeout
            # ambiguous (the order may be live although the client saw no answer).
            response = await handler(request)
            if delay:
                await asyncio.sleep(delay)
            return response
        except ApiError as exc:
            return error_response(exc)
        except web.HTTPRequestEntityTooLarge:
            return json_response({"error": "Payload exceeds the limit"}, 400)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            return json_response({"error": "not found"}, 404)
        except web.HTTPException as exc:
            return json_response({"error": exc.reason}, exc.status)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return json_response({"error": "Internal Server Error"}, 500)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> Any:
        info = request.match_info
        resource = info.route.resource if info.route is not None else None
        name = resource.canonical if resource is not None and info.http_exception is None else "<unmatched>"
        endpoint = f"{request.method} {name}"
        server.requests[endpoint] += 1
        response = await handle(request, handler, name)
        if response.status != 200 and not isinstance(response, web.WebSocketResponse):
            server.errors[f"{endpoint} {response.status}"] += 1
        return response

    app = web.Application(middlewares=[middleware], client_max_size=MAX_BODY)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app
