"""The named-tensor manifest: the exact bytes of the contract with the node (docs/api.md)."""
import hashlib
import struct

import pytest

from mpc_node.manifest import CONTENT_TYPE, digest, manifest_bytes, prefix


def test_manifest_bytes_are_compact_json_with_keys_in_contract_order():
    m = manifest_bytes([("fc.weight", (10, 64), "float32"), ("fc.bias", (10,), "float16"), ("bn.num_batches_tracked", (), "int64")])
    assert m == (
        b'{"v":1,"tensors":[{"name":"fc.weight","shape":[10,64],"dtype":"float32"},'
        b'{"name":"fc.bias","shape":[10],"dtype":"float16"},'
        b'{"name":"bn.num_batches_tracked","shape":[],"dtype":"int64"}]}'
    )
    assert digest(m) == hashlib.sha256(m).hexdigest()
    assert prefix(m) == struct.pack("<I", len(m)) + m
    assert CONTENT_TYPE == "application/vnd.mpc-node.tensors"


def test_quotes_and_backslashes_in_names_are_escaped_as_json_stringify_does():
    assert manifest_bytes([('a"b\\c', (1,), "float32")]) == b'{"v":1,"tensors":[{"name":"a\\"b\\\\c","shape":[1],"dtype":"float32"}]}'


@pytest.mark.parametrize(
    "entries,match",
    [
        ([], "no tensors"),
        ([("caf\u00e9", (1,), "float32")], "printable ASCII"),
        ([("", (1,), "float32")], "printable ASCII"),
        ([("x" * 513, (1,), "float32")], "printable ASCII"),
        ([("a", (1,), "float32"), ("a", (2,), "float32")], "twice"),
        ([("empty", (3, 0), "float32")], "no values"),
        ([("c", (2,), "complex64")], "dtype complex64"),
    ],
)
def test_what_the_node_would_refuse_is_refused_before_sending(entries, match):
    with pytest.raises(ValueError, match=match):
        manifest_bytes(entries)
