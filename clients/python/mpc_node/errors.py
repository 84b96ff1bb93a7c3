"""The one exception of the client: the node's JSON error, or a client-side failure."""


class MpcNodeError(Exception):
    """A refused or failed aggregation.

    ``code`` is the node's stable error code (docs/errors.md, e.g. ``API_UNAUTHORIZED``,
    ``PROTOCOL_TIMEOUT``) with its ``message`` and HTTP ``status``, or one of the client's own
    codes with ``status`` None: ``CLIENT_CONNECTION`` (no answer from the node, after the
    retries), ``CLIENT_TIMEOUT`` (no answer within ``timeout``), ``CLIENT_BAD_RESPONSE`` (an
    answer that is not the aggregate the request asked for).
    """

    def __init__(self, code, message, status=None):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status
