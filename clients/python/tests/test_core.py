"""The standard-library core: bytes, bytearray, memoryview and array('f') updates, the HTTP
contract, errors and retries. Runs with numpy and torch importable (here) and blocked
(test_stdlib_only.py)."""
import struct
from array import array

import pytest

from mpc_node import Client, MpcNodeError
from mpc_node import client as client_mod
from node_stub import StubNode, err


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def test_bytes_update_round_trips_as_array_f_with_the_documented_request():
    with StubNode() as node:
        c = Client(node.url, token="tok-1")
        got = c.aggregate("epoch-7", f32(0.5, -1.25, 2.0), weight=120, reduce="mean", expect=2)
        assert isinstance(got, array) and got.typecode == "f"
        assert list(got) == [0.5, -1.25, 2.0]
        (r,) = node.requests
        assert r.path == "/v1/aggregate"
        assert r.query == {"round": "epoch-7", "weight": "120", "reduce": "mean", "expect": "2"}
        assert r.headers["content-type"] == "application/octet-stream"
        assert r.headers["content-length"] == "12"
        assert "transfer-encoding" not in r.headers
        assert r.headers["authorization"] == "Bearer tok-1"
        assert len(r.headers["x-mpc-idempotency-key"]) == 36
        assert r.body == f32(0.5, -1.25, 2.0)


@pytest.mark.parametrize("kind", ["bytearray", "memoryview", "array-f", "array-d"])
def test_every_stdlib_kind_is_sent_as_float32_le(kind):
    vals = [1.5, -3.0, 0.25, 1e-3]
    upd = {
        "bytearray": bytearray(f32(*vals)),
        "memoryview": memoryview(f32(*vals)),
        "array-f": array("f", vals),
        "array-d": array("d", vals),
    }[kind]
    with StubNode() as node:
        got = Client(node.url).aggregate("r", upd, weight=0.5, reduce="sum")
        assert list(got) == list(array("f", vals))
        assert node.requests[0].body == array("f", vals).tobytes()
        assert node.requests[0].query["weight"] == "0.5"
        assert node.requests[0].query["reduce"] == "sum"


def test_a_large_update_streams_with_a_content_length_and_is_read_back_whole():
    n = 3 * (1 << 20) // 4 + 7  # more than three 1 MiB pieces
    upd = array("f", range(n))
    with StubNode() as node:
        got = Client(node.url).aggregate("big", upd)
        assert got == upd
        assert node.requests[0].headers["content-length"] == str(4 * n)


def test_aggregate_detailed_reads_the_answer_headers():
    with StubNode() as node:
        res = Client(node.url).aggregate_detailed("r-1", f32(1, 2), weight=3)
        assert res.total_weight == 3.0
        assert res.contributors == ["eu", "us"]
        assert res.holders == ["eu", "us", "apac"]
        assert res.clip_factor == 1.0
        assert res.round == "r-1"
        assert res.attempts == 1


def test_token_file_and_bad_arguments(tmp_path):
    p = tmp_path / "api-token"
    p.write_text("secret-token\n")
    with StubNode() as node:
        Client(node.url, token_file=str(p)).aggregate("r", f32(1))
        assert node.requests[0].headers["authorization"] == "Bearer secret-token"
    with pytest.raises(ValueError, match="reduce"):
        Client("http://127.0.0.1:1").aggregate("r", f32(1), reduce="max")
    with pytest.raises(ValueError, match="whole number of float32"):
        Client("http://127.0.0.1:1").aggregate("r", b"\0\0\0")
    with pytest.raises(TypeError, match="expected bytes"):
        Client("http://127.0.0.1:1").aggregate("r", [1.0, 2.0])
    with pytest.raises(ValueError, match="http"):
        Client("ftp://127.0.0.1:1")
    with pytest.raises(ValueError, match="idempotency_key"):
        Client("http://127.0.0.1:1").aggregate("r", f32(1), idempotency_key="has space")
    with pytest.raises(ValueError, match="https"):
        Client("http://127.0.0.1:1", ca_file="ca.pem")


def test_the_nodes_json_error_is_raised_with_its_code_message_and_status_and_a_4xx_is_never_retried():
    with StubNode([(409, err("PROTOCOL_PARAM_MISMATCH", "regions disagree on the round parameters"), {})]) as node:
        with pytest.raises(MpcNodeError) as e:
            Client(node.url, retries=3).aggregate("r", f32(1))
        assert (e.value.code, e.value.status) == ("PROTOCOL_PARAM_MISMATCH", 409)
        assert e.value.message == "regions disagree on the round parameters"
        assert len(node.requests) == 1
    with StubNode([(400, err("API_BAD_REQUEST"), {}), "echo"]) as node:
        with pytest.raises(MpcNodeError, match="API_BAD_REQUEST"):
            Client(node.url, retries=3).aggregate("r", f32(1))
        assert len(node.requests) == 1


def test_an_answer_without_the_json_error_is_client_bad_response():
    with StubNode([(502, b"<html>bad gateway</html>", {})]) as node:
        with pytest.raises(MpcNodeError) as e:
            Client(node.url).aggregate("r", f32(1))
        assert (e.value.code, e.value.status) == ("CLIENT_BAD_RESPONSE", 502)


def test_a_reset_before_any_answer_byte_is_retried_once_with_the_same_idempotency_key():
    with StubNode(["reset", "echo"]) as node:
        res = Client(node.url).aggregate_detailed("r", f32(4, 5), idempotency_key="k-123")
        assert list(res.values) == [4.0, 5.0]
        assert res.attempts == 2
        assert [r.headers["x-mpc-idempotency-key"] for r in node.requests] == ["k-123", "k-123"]
        assert node.requests[0].body == node.requests[1].body == f32(4, 5)
    with StubNode(["reset", "echo"]) as node:
        Client(node.url).aggregate("r", f32(1))
        keys = [r.headers["x-mpc-idempotency-key"] for r in node.requests]
        assert len(keys) == 2 and keys[0] == keys[1]


def test_resets_beyond_the_retries_raise_client_connection():
    with StubNode(["reset", "reset", "echo"]) as node:
        with pytest.raises(MpcNodeError) as e:
            Client(node.url, retries=1).aggregate("r", f32(1))
        assert e.value.code == "CLIENT_CONNECTION" and e.value.status is None
        assert len(node.requests) == 2
    with StubNode(["reset", "echo"]) as node:
        with pytest.raises(MpcNodeError, match="CLIENT_CONNECTION"):
            Client(node.url, retries=0).aggregate("r", f32(1))
        assert len(node.requests) == 1


def test_a_refused_connection_is_client_connection():
    c = Client("http://127.0.0.1:%d" % _closed_port(), retries=1)
    with pytest.raises(MpcNodeError) as e:
        c.aggregate("r", f32(1))
    assert e.value.code == "CLIENT_CONNECTION"
    assert "ConnectionRefusedError" in e.value.message


def test_503_and_429_are_retried_after_retry_after(monkeypatch):
    slept = []
    monkeypatch.setattr(client_mod.time, "sleep", slept.append)
    busy = (503, err("POLICY_ROUNDS_IN_FLIGHT"), {"Retry-After": "2"})
    with StubNode([busy, "echo"]) as node:
        assert list(Client(node.url).aggregate("r", f32(7))) == [7.0]
        assert len(node.requests) == 2
    with StubNode([(429, err("POLICY_ROUNDS_IN_FLIGHT"), {}), "echo"]) as node:
        assert list(Client(node.url).aggregate("r", f32(7))) == [7.0]
    assert slept == [2.0, 1.0]  # the node's Retry-After, else 1 s
    with StubNode([busy, busy, "echo"]) as node:
        with pytest.raises(MpcNodeError) as e:
            Client(node.url, retries=1).aggregate("r", f32(7))
        assert (e.value.code, e.value.status) == ("POLICY_ROUNDS_IN_FLIGHT", 503)


def test_an_answer_that_breaks_off_is_never_retried():
    with StubNode(["partial", "echo"]) as node:
        with pytest.raises(MpcNodeError) as e:
            Client(node.url, retries=3).aggregate("r", f32(1, 2, 3, 4))
        assert e.value.code == "CLIENT_BAD_RESPONSE"
        assert len(node.requests) == 1


def test_no_answer_within_the_timeout_is_client_timeout_and_not_retried():
    with StubNode(["silent", "echo"], silence=1.5) as node:
        with pytest.raises(MpcNodeError) as e:
            Client(node.url, timeout=0.3, retries=3).aggregate("r", f32(1))
        assert e.value.code == "CLIENT_TIMEOUT"
        assert len(node.requests) == 1


def _closed_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
