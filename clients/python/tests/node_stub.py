"""A stand-in trainer API on 127.0.0.1 for the client's unit tests: a real http.server that
records every request and answers by a script (echo the values back, an error, a reset
connection, a broken-off answer, silence). The real node is exercised by the end-to-end tests."""
import hashlib
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TENSORS = "application/vnd.mpc-node.tensors"


class Request:
    def __init__(self, handler, body):
        u = urlsplit(handler.path)
        self.path = u.path
        self.query = {k: v[0] for k, v in parse_qs(u.query).items()}
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        self.body = body
        self.manifest = None
        self.values = body
        if self.headers.get("content-type") == TENSORS:
            (n,) = struct.unpack_from("<I", body)
            self.manifest = body[4 : 4 + n]
            self.values = body[4 + n :]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        stub = self.server.stub
        action = stub.script.pop(0) if stub.script else "echo"
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        req = Request(self, body)
        stub.requests.append(req)
        if action == "reset":
            # RST without a byte of answer: SO_LINGER 0 then close
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if action == "silent":
            time.sleep(stub.silence)
            self.close_connection = True
            return
        if isinstance(action, tuple):
            status, payload, extra = action
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            return
        out = req.values
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(out)))
        self.send_header("x-mpc-total-weight", req.query.get("weight", "1"))
        self.send_header("x-mpc-contributors", "eu,us")
        self.send_header("x-mpc-holders", "eu,us,apac")
        self.send_header("x-mpc-round", req.query.get("round", ""))
        self.send_header("x-mpc-clip-factor", "1")
        if req.manifest is not None:
            self.send_header("x-mpc-manifest-digest", stub.digest or hashlib.sha256(req.manifest).hexdigest())
        self.end_headers()
        if action == "partial":
            self.wfile.write(out[: len(out) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(out)


class StubNode:
    """``with StubNode(script) as node:`` serves on ``node.url``; ``node.requests`` are the
    requests seen. Script entries, one per request (then "echo"): "echo", "reset", "partial",
    "silent", or (status, JSON payload or bytes, extra headers)."""

    def __init__(self, script=(), silence=2.0, digest=None):
        self.script = list(script)
        self.silence = silence
        self.digest = digest
        self.requests = []

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.stub = self
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False


def err(code, message="refused"):
    return {"error": {"code": code, "message": message}}
