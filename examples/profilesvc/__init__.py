"""profilesvc: Go kit's REST example, a profile store with addresses, as a typed kit service.

Each method declares its REST route (``@method(http="GET /profiles/{id}")``); kit-http
takes path parameters from the path, the rest from the body or the query, and maps the
typed errors to statuses: NotFound 404, InvalidArgument 400, AlreadyExists 409.
"""
