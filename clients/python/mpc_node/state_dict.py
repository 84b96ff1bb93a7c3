"""``aggregate_state_dict``: a PyTorch ``state_dict`` (or a dict of numpy arrays) aggregated as
named tensors, returned with the same names, shapes, dtypes and devices.

Every floating tensor goes on the wire as float32: float16 and bfloat16 exactly, float64 rounded
to float32's 24-bit mantissa; the aggregate (fixed point 2^-scaleBits per value, then float32) is
rounded back to the tensor's dtype. Integer and bool tensors (BatchNorm's
``num_batches_tracked``) are refused unless ``integer`` says otherwise: ``"skip"`` keeps the
local value (the tensor object itself) and leaves it out of the request, ``"average"`` sends it
as float32 (exact up to 2^24) and rounds the aggregate to the nearest integer of its dtype.
"""
from ._buffers import kind_of, torch_bytes, torch_f32_cpu, torch_from
from .client import Client, Result
from .manifest import CONTENT_TYPE, digest, manifest_bytes, prefix
from .errors import MpcNodeError

INTEGER_MODES = ("refuse", "skip", "average")


def _dtype_name(v):
    """The trainer-side dtype name: torch.float32 -> "float32", numpy float16 -> "float16"."""
    if kind_of(v) == "torch":
        return str(v.dtype).replace("torch.", "")
    return v.dtype.name


def _is_float(v):
    if kind_of(v) == "torch":
        if v.is_complex():
            return None
        return v.dtype.is_floating_point
    k = v.dtype.kind
    return None if k == "c" else k == "f"


class _Values:
    """The request body after the prefix: each tensor converted to float32 only as it is sent,
    so at most one tensor's float32 copy exists at a time (none for float32 CPU tensors)."""

    def __init__(self, head, tensors):
        self.head = head
        self.tensors = tensors

    def __iter__(self):
        yield memoryview(self.head)
        for v in self.tensors:
            if kind_of(v) == "torch":
                t = torch_f32_cpu(v)
                yield torch_bytes(t)
            else:
                import numpy as np

                a = np.ascontiguousarray(v, dtype="<f4").reshape(-1)
                yield memoryview(a.view(np.uint8))


def _reader(sent, counts):
    """Reads the answer tensor by tensor: a float32 CPU tensor (or float32 numpy array) straight
    into its own new memory, any other into one scratch buffer of the largest such tensor and
    converted from there. So the answer never exists twice: the trainer holds the returned
    tensors plus at most one tensor's float32 values."""

    def read(fill, size):
        out, scratch = {}, None
        for (name, v), n in zip(sent, counts):
            if _direct(v):
                out[name] = _filled(fill, v)
                continue
            if scratch is None:
                scratch = bytearray(4 * max(c for (_, w), c in zip(sent, counts) if not _direct(w)))
            fill(memoryview(scratch)[: 4 * n])
            out[name] = _converted(scratch, n, v)
        return out

    return read


def _direct(v):
    """Whether the answer for ``v`` is read straight into a new float32 CPU tensor/array."""
    if kind_of(v) == "torch":
        return str(v.dtype) == "torch.float32" and v.device.type == "cpu"
    return v.dtype.name == "float32"


def _filled(fill, like):
    """A new float32 CPU tensor (or float32 array) shaped like ``like``, read from the answer."""
    if kind_of(like) == "torch":
        import torch

        t = torch.empty(like.shape, dtype=torch.float32)
        fill(torch_bytes(t))
        return t
    import numpy as np

    a = np.empty(like.shape, dtype="<f4")
    fill(memoryview(a.reshape(-1).view(np.uint8)))
    return a.astype(np.float32, copy=False)


def _converted(scratch, count, like):
    """The first ``count`` float32 values of ``scratch`` as a new tensor/array like ``like``
    (never a view of ``scratch``, which the next tensor reuses)."""
    if kind_of(like) == "torch":
        t = torch_from(scratch, 0, count, like)  # a copy: another dtype or device
        if not like.dtype.is_floating_point:
            t = t.round().to(like.dtype)
        return t
    import numpy as np

    a = np.frombuffer(scratch, dtype="<f4", count=count).reshape(like.shape)
    if like.dtype.kind == "f":
        return a.astype(like.dtype)
    return np.rint(a).astype(like.dtype)


def aggregate_state_dict(client, state_dict, round, weight=1.0, reduce="mean", integer="refuse", expect=None, idempotency_key=None, detailed=False):
    """Aggregates every tensor of ``state_dict`` in one named-tensor request to ``round``.

    ``client``: a ``Client``, or a dict of its keyword arguments. Returns a new ``dict`` with the
    same keys in the same order (an ``OrderedDict`` stays one): the aggregate of each sent tensor
    with its shape, dtype and device, the local tensor for a skipped one; with
    ``detailed=True`` a ``Result`` whose ``values`` is that dict. Raises ``ValueError`` before
    anything is sent for an integer tensor under ``integer="refuse"`` (naming it), and
    ``MpcNodeError`` for the node's refusals, e.g. a manifest that differs from the other
    trainers' (the message names the first tensor that differs).
    """
    if integer not in INTEGER_MODES:
        raise ValueError("integer: expected one of %s, got %r" % (", ".join(INTEGER_MODES), integer))
    if not isinstance(client, Client):
        client = Client(**client)
    entries, sent = [], []
    for name, v in state_dict.items():
        if kind_of(v) not in ("torch", "numpy"):
            raise TypeError("state_dict[%r]: expected a torch tensor or a numpy array, got %s" % (name, type(v).__name__))
        f = _is_float(v)
        if f is None:
            raise TypeError("state_dict[%r]: complex tensors cannot be aggregated" % (name,))
        if not f:
            if integer == "skip":
                continue
            if integer == "refuse":
                raise ValueError(
                    "state_dict[%r] has integer dtype %s: pass integer=\"skip\" to keep each trainer's local value, "
                    "or integer=\"average\" to send it as float32 and round the aggregate back" % (name, _dtype_name(v))
                )
        entries.append((name, tuple(v.shape), _dtype_name(v)))
        sent.append((name, v))
    manifest = manifest_bytes(entries)
    head = prefix(manifest)
    counts = [_numel(v) for _, v in sent]
    total = sum(counts)
    agg, headers, attempts = client.post(
        round, CONTENT_TYPE, _Values(head, [v for _, v in sent]), len(head) + 4 * total, total, weight, reduce, expect, idempotency_key, reader=_reader(sent, counts)
    )
    got = headers.get("x-mpc-manifest-digest")
    if got != digest(manifest):
        raise MpcNodeError("CLIENT_BAD_RESPONSE", "the answer's manifest digest %s is not the one sent (%s)" % (got, digest(manifest)), 200)
    out = type(state_dict)() if isinstance(state_dict, dict) and type(state_dict) is not dict else {}
    for name, v in state_dict.items():
        out[name] = agg[name] if name in agg else v
    return Result(out, headers, attempts) if detailed else out


def _numel(v):
    return v.numel() if kind_of(v) == "torch" else int(v.size)
