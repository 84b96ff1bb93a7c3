"""The client against real node processes (three regions on 127.0.0.1, started through
examples/fedavg-pytorch/federation.ts from dist/): every kind of update gets the weighted mean,
and the node's errors arrive as MpcNodeError with its code."""
import os
import sys
import threading
from array import array

import numpy as np
import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "fedavg-pytorch"))

from local_federation import LocalFederation  # noqa: E402
from mpc_node import Client, MpcNodeError  # noqa: E402

ROUND = {"clipL2": 1e4, "maxWeight": 1e4, "maxTrainersPerRound": 10, "collectMs": 20000, "minContributors": 3}


@pytest.fixture(scope="module")
def fed():
    with LocalFederation(("eu", "us", "apac"), threshold=2, round=ROUND) as f:
        yield f


def client(fed, rid, **kw):
    r = fed.region(rid)
    return Client(r["api"], token_file=r["tokenFile"], **kw)


def together(calls):
    out = [None] * len(calls)

    def go(i):
        try:
            out[i] = calls[i]()
        except Exception as e:  # returned, asserted by the test
            out[i] = e

    ts = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def test_array_numpy_and_torch_trainers_in_three_regions_get_the_weighted_mean(fed):
    a = array("f", [1.0, 2.0, -3.0, 0.5])
    b = np.array([[3.0, 4.0], [5.0, 0.25]])
    c = torch.tensor([5.0, 6.0, 7.0, -0.75], dtype=torch.float16)
    eu, us, apac = together([
        lambda: client(fed, "eu").aggregate_detailed("e2e-kinds", a, weight=1, expect=1),
        lambda: client(fed, "us").aggregate_detailed("e2e-kinds", b, weight=3, expect=1),
        lambda: client(fed, "apac").aggregate_detailed("e2e-kinds", c, weight=2, expect=1),
    ])
    want = (np.array(a, dtype=np.float64) * 1 + b.reshape(-1) * 3 + c.double().numpy() * 2) / 6
    assert isinstance(eu.values, array) and np.abs(np.array(eu.values) - want).max() < 1e-4
    assert us.values.shape == (2, 2) and np.abs(us.values.reshape(-1) - want).max() < 1e-4
    assert apac.values.dtype == torch.float16 and torch.allclose(apac.values.double(), torch.tensor(want), atol=4e-3)
    for r in (eu, us, apac):
        assert sorted(r.contributors) == ["apac", "eu", "us"] and r.total_weight == 6 and r.clip_factor == 1


def test_the_nodes_refusals_are_mpc_node_errors_with_its_codes(fed):
    with pytest.raises(MpcNodeError) as e:
        Client(fed.region("eu")["api"], token="wrong").aggregate("e2e-401", array("f", [1.0]))
    assert (e.value.code, e.value.status) == ("API_UNAUTHORIZED", 401)
    with pytest.raises(MpcNodeError) as e:
        client(fed, "eu").aggregate("bad round id!", array("f", [1.0]))
    assert (e.value.code, e.value.status) == ("API_BAD_REQUEST", 400)
    with pytest.raises(MpcNodeError) as e:
        client(fed, "eu").aggregate("e2e-nan", array("f", [float("nan")]))
    assert (e.value.code, e.value.status) == ("ENCODE_NOT_FINITE", 400)
    assert "nan" not in e.value.message.lower() or "value" in e.value.message.lower()
