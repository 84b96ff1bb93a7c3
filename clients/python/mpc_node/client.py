"""The HTTP client of a region node's trainer API (docs/api.md), standard library only.

One POST /v1/aggregate per call: the body streams from the update's own memory in 1 MiB pieces
with a ``Content-Length``; the answer is read straight into one buffer of the expected size.
Every call carries an idempotency key (``x-mpc-idempotency-key``, a uuid4 unless given), the
same on each retry, so a retried update is never counted twice.
"""
import http.client
import json
import re
import socket
import ssl
import time
import uuid
from urllib.parse import quote, urlsplit

from ._buffers import as_wire
from .errors import MpcNodeError

CHUNK = 1 << 20
REDUCES = ("mean", "sum")
RETRY_STATUSES = (429, 503)
RETRY_AFTER_DEFAULT = 1.0
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}\Z")


class Result:
    """An aggregate with the answer's headers: ``values`` (the caller's kind), ``total_weight``,
    ``contributors`` (region ids), ``holders``, ``clip_factor`` (1.0 unless this update was
    clipped), ``round``, ``manifest_digest`` (hex, named-tensor requests only), ``attempts``."""

    __slots__ = ("values", "total_weight", "contributors", "holders", "clip_factor", "round", "manifest_digest", "attempts")

    def __init__(self, values, headers, attempts):
        self.values = values
        self.total_weight = _num(headers.get("x-mpc-total-weight"))
        self.contributors = [r for r in (headers.get("x-mpc-contributors") or "").split(",") if r]
        self.holders = [r for r in (headers.get("x-mpc-holders") or "").split(",") if r]
        cf = _num(headers.get("x-mpc-clip-factor"))
        self.clip_factor = 1.0 if cf is None else cf
        self.round = headers.get("x-mpc-round")
        self.manifest_digest = headers.get("x-mpc-manifest-digest")
        self.attempts = attempts


def _num(v):
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def _param(v):
    """A weight for the query: integers without a fraction, others as Python's shortest repr."""
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


class Client:
    """A trainer's connection settings for one region node.

    ``node``: the node's trainer API, ``http://HOST:PORT`` or ``https://HOST:PORT``. ``token`` or
    ``token_file`` (the node's ``<data dir>/api-token``): the bearer token. For https, ``ca_file``
    is the CA that signed the node's certificate (else the system's CAs), and ``cert_file`` /
    ``key_file`` the client certificate where the node asks for one. ``timeout``: seconds for
    connecting and for each read, so it must cover the whole round. ``retries``: how many times
    one call is retried, only when no answer byte arrived (connection refused, reset or closed)
    or the node answered 429/503 (after its ``Retry-After``); a 4xx other than 429 never is.
    """

    def __init__(self, node, token=None, token_file=None, ca_file=None, cert_file=None, key_file=None, timeout=300.0, retries=1):
        u = urlsplit(node)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("node: expected http://HOST:PORT or https://HOST:PORT, got %r" % node)
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        if token_file is not None:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        if cert_file is None and key_file is not None:
            raise ValueError("key_file needs cert_file")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._base = u.path.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self._ssl = None
        if self._https:
            ctx = ssl.create_default_context(cafile=ca_file)
            if cert_file is not None:
                ctx.load_cert_chain(cert_file, key_file)
            self._ssl = ctx
        elif ca_file is not None or cert_file is not None:
            raise ValueError("ca_file and cert_file need an https:// node")

    def aggregate(self, round, update, weight=1.0, reduce="mean", expect=None, idempotency_key=None):
        """Submits ``update`` to ``round`` and returns the global aggregate in the update's kind:
        array('f') for bytes, bytearray, memoryview and array input, a float32 numpy array of the
        same shape for numpy, a tensor of the same shape, device and (floating) dtype for torch."""
        return self.aggregate_detailed(round, update, weight, reduce, expect, idempotency_key).values

    def aggregate_detailed(self, round, update, weight=1.0, reduce="mean", expect=None, idempotency_key=None):
        """As ``aggregate``, returning a ``Result`` with the answer's headers."""
        w = as_wire(update)
        buf, headers, attempts = self.post(round, "application/octet-stream", [w.data], len(w.data), w.count, weight, reduce, expect, idempotency_key)
        return Result(w.restore(buf), headers, attempts)

    def post(self, round, content_type, pieces, length, count, weight=1.0, reduce="mean", expect=None, idempotency_key=None, reader=None):
        """The one POST /v1/aggregate: ``pieces`` (an iterable of byte memoryviews, ``length``
        bytes in all, iterated again on a retry) is the body; ``count`` the float32 values the
        answer must hold. ``reader(fill, size)`` takes the answer's ``size`` bytes, calling
        ``fill(view)`` to read the next ``len(view)`` bytes into a byte memoryview; by default
        they go into one bytearray. Returns (what ``reader`` returned, lowercase headers dict, attempts)."""
        if reduce not in REDUCES:
            raise ValueError("reduce: expected 'mean' or 'sum', got %r" % (reduce,))
        if idempotency_key is not None and not IDEMPOTENCY_KEY.match(str(idempotency_key)):
            raise ValueError("idempotency_key: 1-128 characters of A-Z a-z 0-9 . _ : - (a UUID fits)")
        query = "round=%s&weight=%s&reduce=%s" % (quote(str(round), safe=""), _param(weight), reduce)
        if expect is not None:
            query += "&expect=%d" % int(expect)
        headers = {
            "Content-Type": content_type,
            "Content-Length": str(length),
            "x-mpc-idempotency-key": idempotency_key or str(uuid.uuid4()),
        }
        if self._token is not None:
            headers["Authorization"] = "Bearer " + self._token
        path = "%s/v1/aggregate?%s" % (self._base, query)
        attempt = 0
        while True:
            attempt += 1
            try:
                buf, answer = self._attempt(path, headers, pieces, count, reader or _one_buffer)
                return buf, answer, attempt
            except _Retry as r:
                if attempt > self.retries:
                    raise r.error from None
                time.sleep(r.delay)

    def _connection(self):
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout, context=self._ssl)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _attempt(self, path, headers, pieces, count, reader):
        """One request: (buffer, headers), or raises ``_Retry`` when it may be retried, else
        ``MpcNodeError``."""
        conn = self._connection()
        try:
            try:
                conn.request("POST", path, body=_chunks(pieces), headers=headers, encode_chunked=False)
                sent = None
            except (socket.timeout, TimeoutError):
                raise MpcNodeError("CLIENT_TIMEOUT", "no answer from %s:%s within %ss" % (self._host, self._port, self.timeout))
            except ssl.SSLError as e:
                raise MpcNodeError("CLIENT_CONNECTION", "TLS with %s:%s failed: %s" % (self._host, self._port, e.reason or e))
            except OSError as e:
                sent = e  # refused, reset, or closed while sending: an early answer may still be there
            if sent is not None and conn.sock is None:
                raise _Retry(self._no_answer(sent), 0.0)
            try:
                res = conn.getresponse()
            except (socket.timeout, TimeoutError):
                raise MpcNodeError("CLIENT_TIMEOUT", "no answer from %s:%s within %ss" % (self._host, self._port, self.timeout))
            except (OSError, http.client.HTTPException) as e:
                raise _Retry(self._no_answer(sent or e), 0.0)
            # from here an answer byte arrived: a failure is never retried (the update may be counted)
            try:
                return self._read(res, count, reader)
            except (socket.timeout, TimeoutError):
                raise MpcNodeError("CLIENT_TIMEOUT", "the answer of %s:%s stalled for %ss" % (self._host, self._port, self.timeout))
            except (OSError, http.client.HTTPException) as e:
                raise MpcNodeError("CLIENT_BAD_RESPONSE", "the answer of %s:%s broke off: %s" % (self._host, self._port, type(e).__name__))
            except MpcNodeError as e:
                if e.status in RETRY_STATUSES:
                    raise _Retry(e, _retry_after(res.getheader("retry-after")))
                raise
        finally:
            conn.close()

    def _no_answer(self, e):
        return MpcNodeError("CLIENT_CONNECTION", "connection to %s:%s failed before any answer: %s" % (self._host, self._port, type(e).__name__))

    def _read(self, res, count, reader):
        headers = {k.lower(): v for k, v in res.getheaders()}
        if res.status != 200:
            raw = res.read(65536)
            try:
                e = json.loads(raw.decode("utf-8"))["error"]
                code, message = str(e["code"]), str(e.get("message", ""))
            except (ValueError, KeyError, TypeError):
                code, message = "CLIENT_BAD_RESPONSE", "HTTP %d without the node's JSON error" % res.status
            raise MpcNodeError(code, message, res.status)
        want = 4 * count
        got = headers.get("content-length")
        if got is not None and got != str(want):
            raise MpcNodeError("CLIENT_BAD_RESPONSE", "the aggregate has %s bytes, expected %d" % (got, want), res.status)
        done = [0]

        def fill(view):
            n = 0
            while n < len(view):
                k = res.readinto(view[n:])
                if not k:
                    raise MpcNodeError("CLIENT_BAD_RESPONSE", "the aggregate ended after %d of %d bytes" % (done[0] + n, want), res.status)
                n += k
            done[0] += n

        out = reader(fill, want)
        if done[0] != want:
            raise MpcNodeError("CLIENT_BAD_RESPONSE", "read %d of the aggregate's %d bytes" % (done[0], want), res.status)
        if res.read(1):
            raise MpcNodeError("CLIENT_BAD_RESPONSE", "the aggregate is longer than %d bytes" % want, res.status)
        return out, headers


def _one_buffer(fill, size):
    buf = bytearray(size)
    fill(memoryview(buf))
    return buf


class _Retry(Exception):
    """An attempt that may be repeated: ``error`` if no retry is left, after ``delay`` seconds."""

    def __init__(self, error, delay):
        super().__init__(error)
        self.error = error
        self.delay = delay


def _chunks(pieces):
    for p in pieces:
        for i in range(0, len(p), CHUNK):
            yield p[i : i + CHUNK]


def _retry_after(v):
    """Seconds to wait from a Retry-After header (delta-seconds; a date or none: 1 s), at most 60."""
    try:
        return min(max(float(v), 0.0), 60.0)
    except (TypeError, ValueError):
        return RETRY_AFTER_DEFAULT
