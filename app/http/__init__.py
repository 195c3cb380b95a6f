"""The HTTP layer: middleware, problem rendering, preconditions, idempotency, page links and
the OpenAPI document. Domain packages import from here only in their routers."""
