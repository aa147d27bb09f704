"""The /v1 API's own ASGI handler: straight from the socket to its async views.

Django's ASGI handler wraps every request for pages: it runs each
`MiddlewareMixin` middleware's hooks in a thread (WhiteNoise, sessions, auth,
CSRF, messages, axes: ~30 thread hops a request), opens a thread-sensitive
context per request, and sends the request_started/finished signals and
`response.close()` through threads as well. None of that serves /v1: its
views are async, authenticate with a bearer key (no session, no cookie, no
CSRF) and do their database work in the run engine's threads. Measured in
bench/versus_bench.py, the page chain was about half of a call's cost.

So /v1 gets the parts of that chain that apply to it, run inline on the
event loop, in the same order: SecurityMiddleware (HTTPS redirect and its
headers), CommonMiddleware (ALLOWED_HOSTS, Content-Length) and
XFrameOptionsMiddleware; their hooks are plain functions that do no I/O.
Everything else is Django's own: the request class, URL resolution, the
exception-to-response conversion and the response writer (this class is an
ASGIHandler), so a /v1 answer is byte for byte what the full chain sent.
"""

import asyncio

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import response_for_exception
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import resolve, set_script_prefix

PREFIX = "/v1"


def is_api(scope):
    path = scope.get("path", "")
    return scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/"))


def _unused(request):
    raise AssertionError("inline middleware never calls the next handler")


class ApiHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # In MIDDLEWARE's order; their hooks are called directly, never
        # through the middleware's __call__ (which would hop to a thread).
        self.inline = [
            SecurityMiddleware(_unused), CommonMiddleware(_unused), XFrameOptionsMiddleware(_unused)
        ]

    async def __call__(self, scope, receive, send):
        # No ThreadSensitiveContext: nothing here runs in a thread.
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            return

        async def respond():
            response = await self.respond(request)
            response._handler_class = self.__class__
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away mid-answer

        # As Django's handler does: a client that disconnects cancels the
        # view (and so the run's upstream request).
        tasks = [asyncio.create_task(self.listen_for_disconnect(receive)),
                 asyncio.create_task(respond())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()  # nothing, if done
            # Waited for, not awaited: an await re-raises a task's exception
            # (the listener's RequestAborted once the client is done, every
            # call) here, and its traceback, holding this frame and so
            # `tasks`, tied each call's objects (~50: the request, its body,
            # both tasks) into a reference cycle. Under load a full
            # collection then freed tens of thousands at once: pauses of
            # ~100 ms (bench/README.md, session 10).
            await asyncio.wait(tasks)
            body_file.close()
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, RequestAborted):
                raise error

    async def send_response(self, response, send):
        # A streamed answer that sends its own frames (apps/gateway/sse.py's
        # EventStream) is handed `send`; Django's writer still sends the
        # response's start and its end.
        if hasattr(response, "sender"):
            response.sender = send
        await super().send_response(response, send)

    async def respond(self, request):
        # As Django's chain: a middleware whose process_request answered has
        # its process_response applied; one that raised has not (the error
        # becomes a response at its layer); a view's error passes all of them.
        response, reached = None, 0
        try:
            for middleware in self.inline:
                hook = getattr(middleware, "process_request", None)
                response = hook(request) if hook else None
                reached += 1
                if response is not None:
                    break
            else:
                match = resolve(request.path_info)
                request.resolver_match = match
                response = await match.func(request, *match.args, **match.kwargs)
        except Exception as exc:
            response = response_for_exception(request, exc)
        for middleware in reversed(self.inline[:reached]):
            hook = getattr(middleware, "process_response", None)
            if hook:
                response = hook(request, response)
        return response
