"""Every error the gateway answers, in OpenAI's shape:

    {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}

Statuses (the openai SDK raises the class in brackets):

- 400 invalid_request_error [BadRequestError]: the body is not a JSON object,
  or it is JSON the catalogue rejects; the model exists but does not serve
  this endpoint (doc 004's 400, "invalid model endpoint specified"); the
  upstream refused a request it understood.
- 401 [AuthenticationError]: no key, or an unknown or revoked one.
- 404 model_not_found [NotFoundError]: no enabled model by that name (doc 004).
  A rejected body carries OpenAI's `error` object (message: every catalogue
  message joined, param: the first field) *and* doc 004's `detail` list
  (`[{loc: ["body", field], msg, type}]`). Doc 004 answers validation with
  422, OpenAI (and vLLM) with 400; a gateway for the openai SDK answers as
  OpenAI does, so code that catches BadRequestError keeps working, while
  FastAPI-style clients still find `detail`.
- 429 [RateLimitError]: the upstream is rate limiting; its Retry-After is passed on.
- 502 [InternalServerError]: the upstream failed, was unreachable, broke the
  protocol, or refused the provider's own key (the client cannot fix that).
- 504 [InternalServerError]: the upstream timed out.
- A run stopped before its end, so its output is not the whole answer:
  410 run_cancelled [APIStatusError] when its owner stopped it in Playground
  (not retried: someone meant it to stop); 503 run_interrupted
  [InternalServerError, retried] when the engine interrupted it while its
  caller still waited (engine.close() under a server that lets calls answer
  first; daphne cancels the calls in flight before, so their callers see
  the connection close). Streamed, the same error is the last frame instead
  of [DONE] (sse.py). A run that failed inside Playground without an error
  event to pass on (a bug) is a 500 internal_error, never a complete answer.
"""

import math

from django.http import JsonResponse

from apps.history.models import Run

# See the docstring: OpenAI's status, doc 004's `detail` list in the body.
VALIDATION_STATUS = 400

# The adapter's error codes (apps.inference.events.Error) -> our status.
UPSTREAM_STATUS = {
    "bad_request": 400,
    "rate_limited": 429,
    "timeout": 504,
    "internal": 500,
}
TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
         405: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error"}


class ApiError(Exception):
    def __init__(self, status, message, *, param=None, code=None, headers=None, detail=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}
        self.detail = detail

    def body(self):
        error = {
            "message": self.message,
            "type": TYPES.get(self.status, "api_error"),
            "param": self.param,
            "code": self.code,
        }
        body = {"error": error}
        if self.detail is not None:
            body["detail"] = self.detail
        return body

    def response(self):
        return JsonResponse(self.body(), status=self.status, headers=self.headers)


def invalid_body():
    return ApiError(
        400,
        "We could not parse the JSON body of your request: send a JSON object "
        "(Content-Type: application/json).",
    )


def validation_failed(errors):
    """The catalogue's FieldErrors, with the same messages as the playground."""
    return ApiError(
        VALIDATION_STATUS,
        "; ".join(e.message for e in errors),
        param=errors[0].field,
        detail=[
            {
                "loc": ["body"] if e.field == "body" else ["body", e.field],
                "msg": e.message,
                "type": "value_error",
            }
            for e in errors
        ],
    )


def from_upstream(error):
    """An apps.inference Error event. Its message is already safe to show: the
    adapter never puts a key, header value or credentialed URL in it.

    bad_request is the client's mistake, whoever found it: the upstream's 4xx
    about the request (its message quoted) or the adapter's refusal of what the
    model is known not to take (naming the field in `param`). It is a 400, so
    the SDK raises BadRequestError and does not retry; 502/504 stay for the
    upstream's own failures."""
    status = UPSTREAM_STATUS.get(error.code, 502)
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(error.retry_after))
    if status == 429:
        code = "rate_limit_exceeded"
    elif error.code == "bad_request" and error.param:
        code = "unsupported_value"
    else:
        code = f"upstream_{error.code}"
    param = getattr(error, "param", None)
    return ApiError(status, error.message, param=param, code=code, headers=headers)


def stopped(status):
    """The error for a run that ended as `status` (a Run's), or None if it ran
    to its end (completed). A failed run has its upstream's error, which
    callers look at first; one that failed without an error event (the
    engine could not even publish it) is still not complete."""
    if status == Run.CANCELLED:
        return ApiError(
            410,
            "This run was stopped in Playground before it finished. The run is kept "
            "in the history as cancelled.",
            code="run_cancelled",
        )
    if status == Run.INTERRUPTED:
        return ApiError(
            503,
            "The server shut down before this run finished; try again. The run is "
            "kept in the history as interrupted.",
            code="run_interrupted",
        )
    if status == Run.FAILED:
        return ApiError(500, "The run failed inside Playground; the server's log has the "
                             "details.", code="internal_error")
    return None


def unknown_path(path):
    return ApiError(
        404,
        f"Unknown path {path[:100]}: this gateway serves /v1/models, /v1/completions "
        "and /v1/chat/completions.",
        code="unknown_url",
    )
