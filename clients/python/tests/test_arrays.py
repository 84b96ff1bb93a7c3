"""numpy arrays and torch tensors as updates: sent from their own memory when they already are
contiguous float32 on the CPU (converted once otherwise), answered in the same kind, shape,
device and floating dtype."""
import numpy as np
import pytest
import torch

from mpc_node import Client
from mpc_node._buffers import as_wire
from node_stub import StubNode


def test_a_contiguous_float32_numpy_array_is_sent_from_its_own_memory():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    w = as_wire(a)
    assert np.shares_memory(w.keep, a)
    assert w.count == 12 and len(w.data) == 48


def test_a_contiguous_float32_cpu_tensor_is_sent_from_its_own_memory():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    w = as_wire(t)
    assert w.keep.data_ptr() == t.data_ptr()
    assert bytes(w.data) == np.arange(6, dtype="<f4").tobytes()


def test_other_dtypes_and_layouts_are_converted_once():
    a = np.arange(12, dtype=np.float64).reshape(3, 4).T  # float64, not contiguous
    w = as_wire(a)
    assert not np.shares_memory(w.keep, a)
    assert bytes(w.data) == np.ascontiguousarray(a, dtype="<f4").tobytes()
    be = np.arange(3, dtype=">f4")
    assert bytes(as_wire(be).data) == np.arange(3, dtype="<f4").tobytes()


def test_numpy_in_numpy_out_with_the_shape():
    a = np.array([[0.5, 1.5], [-2.0, 3.25]], dtype=np.float64)
    with StubNode() as node:
        got = Client(node.url).aggregate("r", a, weight=2)
    assert got.dtype == np.float32 and got.shape == (2, 2)
    np.testing.assert_array_equal(got, a.astype(np.float32))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_torch_in_torch_out_with_shape_device_and_dtype(dtype):
    t = (torch.arange(24, dtype=torch.float64).reshape(2, 3, 4) / 7 - 1.5).to(dtype)
    with StubNode() as node:
        got = Client(node.url).aggregate("r", t)
        sent = np.frombuffer(node.requests[0].body, dtype="<f4")
    assert got.dtype == dtype and got.shape == t.shape and got.device == t.device
    np.testing.assert_array_equal(sent, t.to(torch.float32).reshape(-1).numpy())
    # float16/bfloat16 are exact in float32 and come back exactly; float64 comes back rounded to float32
    assert torch.equal(got, t.to(torch.float32).to(dtype))


def test_an_integer_tensor_comes_back_as_float32_and_a_complex_one_is_refused():
    with StubNode() as node:
        got = Client(node.url).aggregate("r", torch.tensor([1, 2, 3]))
    assert got.dtype == torch.float32 and got.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(TypeError, match="complex"):
        Client("http://127.0.0.1:1").aggregate("r", torch.zeros(2, dtype=torch.complex64))
