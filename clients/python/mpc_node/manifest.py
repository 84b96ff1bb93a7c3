"""The named-tensor manifest of an update (docs/api.md "Named tensors"): the body of a
``application/vnd.mpc-node.tensors`` request is a u32 LE length L, L bytes of the manifest as
UTF-8 JSON, then the float32 LE values of every tensor in manifest order."""
import hashlib
import json
import re
import struct

CONTENT_TYPE = "application/vnd.mpc-node.tensors"
DTYPES = ("float32", "float16", "bfloat16", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
NAME = re.compile(r"[\x20-\x7e]{1,512}\Z")


def manifest_bytes(entries):
    """``entries``: (name, shape, dtype name) in order. The exact bytes every client sends:
    ``{"v":1,"tensors":[{"name":..,"shape":[..],"dtype":..},..]}``, keys in that order, no
    whitespace. Raises ``ValueError`` naming the tensor for what the node would refuse
    (``API_BAD_MANIFEST``): no tensors, a name that is not 1-512 printable ASCII characters or
    repeats, an empty tensor, a dtype the manifest cannot name."""
    if not entries:
        raise ValueError("manifest: no tensors to aggregate")
    tensors, seen = [], set()
    for n, s, t in entries:
        if not isinstance(n, str) or not NAME.match(n):
            raise ValueError("manifest: tensor name %r must be 1-512 printable ASCII characters" % (n,))
        if n in seen:
            raise ValueError("manifest: tensor %r appears twice" % n)
        seen.add(n)
        shape = [int(d) for d in s]
        if any(d < 1 for d in shape):
            raise ValueError("manifest: tensor %r has shape %s with no values" % (n, shape))
        if t not in DTYPES:
            raise ValueError("manifest: tensor %r has dtype %s; the manifest names %s" % (n, t, ", ".join(DTYPES)))
        tensors.append({"name": n, "shape": shape, "dtype": t})
    return json.dumps({"v": 1, "tensors": tensors}, separators=(",", ":")).encode("utf-8")


def prefix(manifest):
    """The bytes before the values: the manifest's length and the manifest."""
    return struct.pack("<I", len(manifest)) + manifest


def digest(manifest):
    """Hex SHA-256 of the manifest bytes as sent: the answer's ``x-mpc-manifest-digest``."""
    return hashlib.sha256(manifest).hexdigest()
