"""aggregate_state_dict: one named-tensor request (manifest, then every tensor's float32
values in order) and a state_dict of the same names, shapes, dtypes and devices back."""
import json
import struct
from collections import OrderedDict

import numpy as np
import pytest
import torch

from mpc_node import Client, MpcNodeError, aggregate_state_dict
from node_stub import StubNode


def model_state():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
    return m.state_dict()


def test_the_request_is_the_manifest_then_every_tensors_float32_values_in_order():
    sd = OrderedDict(w=torch.arange(6, dtype=torch.float32).reshape(2, 3), b=torch.tensor([0.5, -0.25], dtype=torch.float16))
    with StubNode() as node:
        aggregate_state_dict(Client(node.url, token="t"), sd, "ep-1", weight=40, reduce="sum")
        (r,) = node.requests
    assert r.headers["content-type"] == "application/vnd.mpc-node.tensors"
    assert r.query == {"round": "ep-1", "weight": "40", "reduce": "sum"}
    m = b'{"v":1,"tensors":[{"name":"w","shape":[2,3],"dtype":"float32"},{"name":"b","shape":[2],"dtype":"float16"}]}'
    assert r.body == struct.pack("<I", len(m)) + m + np.array([0, 1, 2, 3, 4, 5, 0.5, -0.25], dtype="<f4").tobytes()
    assert r.headers["content-length"] == str(len(r.body))


def test_names_shapes_dtypes_and_devices_come_back_and_values_are_rounded_back_to_the_dtype():
    sd = OrderedDict(
        f32=torch.randn(3, 4),
        f16=torch.randn(5).to(torch.float16),
        bf16=torch.randn(2, 2).to(torch.bfloat16),
        f64=torch.tensor([1 / 3, 1e-9 + 1], dtype=torch.float64),
        scalar=torch.tensor(2.5),
    )
    with StubNode() as node:
        out = aggregate_state_dict({"node": node.url}, sd, "r")
    assert type(out) is OrderedDict and list(out) == list(sd)
    for k, v in sd.items():
        assert out[k].shape == v.shape and out[k].dtype == v.dtype and out[k].device == v.device, k
        assert torch.equal(out[k], v.to(torch.float32).to(v.dtype)), k
    assert out["f64"][0].item() != 1 / 3  # float64 loses what float32 cannot hold
    assert abs(out["f64"][0].item() - 1 / 3) < 2**-25


def test_integer_tensors_are_refused_by_default_naming_the_tensor_and_the_options():
    sd = model_state()
    with StubNode() as node:
        with pytest.raises(ValueError) as e:
            aggregate_state_dict(Client(node.url), sd, "r")
        assert node.requests == []  # nothing was sent
    msg = str(e.value)
    assert "'1.num_batches_tracked'" in msg and "int64" in msg and 'integer="skip"' in msg and 'integer="average"' in msg


def test_skip_keeps_the_local_integer_tensor_and_leaves_it_out_of_the_manifest():
    sd = model_state()
    with StubNode() as node:
        out = aggregate_state_dict(Client(node.url), sd, "r", integer="skip")
        names = [t["name"] for t in json.loads(node.requests[0].manifest)["tensors"]]
    assert "1.num_batches_tracked" not in names and len(names) == len(sd) - 1
    assert out["1.num_batches_tracked"] is sd["1.num_batches_tracked"]
    assert list(out) == list(sd)


def test_average_sends_an_integer_tensor_as_float32_named_by_its_dtype_and_rounds_it_back():
    sd = OrderedDict(w=torch.ones(2), n=torch.tensor(7, dtype=torch.int64), flags=torch.tensor([True, False]))
    with StubNode() as node:
        out = aggregate_state_dict(Client(node.url), sd, "r", integer="average")
        tensors = json.loads(node.requests[0].manifest)["tensors"]
    assert [t["dtype"] for t in tensors] == ["float32", "int64", "bool"]
    assert out["n"].dtype == torch.int64 and out["n"].item() == 7
    assert out["flags"].dtype == torch.bool and out["flags"].tolist() == [True, False]


def test_a_dict_of_numpy_arrays_works_the_same_way():
    sd = {"a": np.arange(4, dtype=np.float64).reshape(2, 2), "b": np.array([1.5], dtype=np.float16)}
    with StubNode() as node:
        out = aggregate_state_dict(Client(node.url), sd, "r")
    assert out["a"].dtype == np.float64 and out["a"].shape == (2, 2)
    np.testing.assert_array_equal(out["a"], sd["a"])
    assert out["b"].dtype == np.float16 and out["b"][0] == 1.5


def test_the_answer_is_read_tensor_by_tensor_into_results_that_own_their_memory():
    sd = OrderedDict(a=torch.randn(100), h1=torch.randn(50).half(), b=torch.randn(10, 10), h2=torch.randn(7).half(), d=torch.randn(3).double())
    with StubNode() as node:
        out = aggregate_state_dict(Client(node.url), sd, "r")
    ptrs = [t.storage().data_ptr() for t in out.values()]
    assert len(set(ptrs)) == len(ptrs)  # no result is a view of a shared buffer (the half ones reuse one scratch)
    for k, v in sd.items():
        assert torch.equal(out[k], v.float().to(v.dtype)), k


def test_an_answer_for_another_manifest_is_refused():
    with StubNode(digest="0" * 64) as node:
        with pytest.raises(MpcNodeError) as e:
            aggregate_state_dict(Client(node.url), {"a": torch.ones(3)}, "r")
    assert e.value.code == "CLIENT_BAD_RESPONSE" and "manifest digest" in e.value.message


def test_bad_arguments():
    with pytest.raises(ValueError, match="integer"):
        aggregate_state_dict({"node": "http://127.0.0.1:1"}, {"a": torch.ones(1)}, "r", integer="round")
    with pytest.raises(TypeError, match="state_dict\\['a'\\]"):
        aggregate_state_dict({"node": "http://127.0.0.1:1"}, {"a": [1.0]}, "r")
    with pytest.raises(ValueError, match="no tensors"):
        aggregate_state_dict({"node": "http://127.0.0.1:1"}, {"n": torch.tensor(1)}, "r", integer="skip")
