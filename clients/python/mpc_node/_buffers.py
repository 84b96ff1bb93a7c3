"""Updates as little-endian float32 bytes for the wire, and answers back in the caller's kind.

``as_wire(update)`` gives a ``Wire``: a byte memoryview of the float32 LE values (the caller's
own memory when it already is contiguous float32 LE on the CPU, else one converted copy) and a
``restore`` that turns the answer's float32 values into the same kind as the update. numpy and
torch are imported only when such an object is passed.
"""
import ctypes
import sys
from array import array

LITTLE = sys.byteorder == "little"


class Wire:
    """``data``: byte memoryview of the float32 LE values; ``count``: number of values;
    ``keep``: the object owning ``data``'s memory; ``restore(buf)``: the answer (a bytearray of
    ``4 * count`` float32 LE bytes) as the update's kind."""

    __slots__ = ("data", "count", "keep", "restore")

    def __init__(self, data, count, keep, restore):
        self.data = data
        self.count = count
        self.keep = keep
        self.restore = restore


def kind_of(x):
    """'torch', 'numpy' or 'std' by the object's module, without importing anything."""
    mod = type(x).__module__ or ""
    if mod == "torch" or mod.startswith("torch."):
        return "torch"
    if mod == "numpy" or mod.startswith("numpy."):
        return "numpy"
    return "std"


def f32_array(buf):
    """array('f') of a float32 LE answer (one copy, byte-swapped on a big-endian machine)."""
    out = array("f")
    out.frombytes(bytes(buf))
    if not LITTLE:
        out.byteswap()
    return out


def _std(x):
    if isinstance(x, array):
        if x.typecode == "f" and x.itemsize == 4 and LITTLE:
            a = x
        else:
            a = array("f", x)  # doubles or ints: one conversion
            if not LITTLE:
                a.byteswap()
        return Wire(memoryview(a).cast("B"), len(a), a, f32_array)
    if isinstance(x, (bytes, bytearray, memoryview)):
        m = memoryview(x)
        if not m.contiguous:
            raise ValueError("update: a memoryview must be contiguous")
        m = m.cast("B")
        if len(m) % 4:
            raise ValueError("update: %d bytes is not a whole number of float32 values" % len(m))
        return Wire(m, len(m) // 4, x, f32_array)
    raise TypeError("update: expected bytes, bytearray, memoryview, array('f'), a numpy array or a torch tensor, got %s" % type(x).__name__)


def _numpy(x):
    import numpy as np

    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError("update: a numpy array of dtype %s cannot be sent as float32" % a.dtype)
    flat = np.ascontiguousarray(a, dtype="<f4").reshape(-1)  # no copy when already contiguous <f4
    shape = a.shape

    def restore(buf):
        return np.frombuffer(buf, dtype="<f4").astype(np.float32, copy=False).reshape(shape)

    return Wire(memoryview(flat.view(np.uint8)), flat.size, flat, restore)


def torch_f32_cpu(t):
    """A contiguous float32 CPU tensor of ``t``'s values (``t`` itself when it already is one)."""
    import torch

    t = t.detach()
    if t.device.type != "cpu" or t.dtype != torch.float32:
        t = t.to(device="cpu", dtype=torch.float32)
    return t.contiguous().reshape(-1)


def torch_bytes(t):
    """A byte memoryview of a contiguous CPU tensor's memory (no copy, no numpy needed)."""
    n = t.numel() * t.element_size()
    if n == 0:
        return memoryview(b"")
    return memoryview((ctypes.c_char * n).from_address(t.data_ptr())).cast("B")


def torch_from(buf, offset, count, like):
    """The float32 values ``buf[offset:offset + 4 count]`` as a tensor shaped, typed and placed
    like ``like`` (floating dtypes rounded back to theirs, others kept as float32). A float32 CPU
    result is a view of ``buf``, not a copy."""
    import torch

    t = torch.frombuffer(buf, dtype=torch.float32, count=count, offset=offset) if count else torch.zeros(0)
    t = t.reshape(like.shape)
    dtype = like.dtype if like.dtype.is_floating_point else torch.float32
    return t.to(device=like.device, dtype=dtype)


def _torch(x):
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError("update: expected a torch.Tensor, got %s" % type(x).__name__)
    if x.is_complex():
        raise TypeError("update: a complex tensor cannot be sent as float32")
    flat = torch_f32_cpu(x)
    return Wire(torch_bytes(flat), flat.numel(), flat, lambda buf: torch_from(buf, 0, flat.numel(), x))


def as_wire(update):
    """The ``Wire`` of an update of any supported kind."""
    k = kind_of(update)
    if k == "torch":
        return _torch(update)
    if k == "numpy":
        return _numpy(update)
    return _std(update)
