"""Named tensors against real node processes: three regions' state_dicts come back as the
weighted mean, tensor by tensor, with the digest of the manifest sent; regions whose models
differ make the round abort in every region with an error naming the first tensor that differs."""
import hashlib
import os
import sys
import threading
from collections import OrderedDict

import pytest
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "fedavg-pytorch"))

from fedavg import tolerance  # noqa: E402
from local_federation import LocalFederation  # noqa: E402
from mpc_node import Client, MpcNodeError, aggregate_state_dict  # noqa: E402
from mpc_node.manifest import manifest_bytes  # noqa: E402

REGIONS = ("eu", "us", "apac")
ROUND = {"clipL2": 1e4, "maxWeight": 1e4, "maxTrainersPerRound": 10, "collectMs": 20000, "phaseTimeoutMs": 5000, "minContributors": 3}


@pytest.fixture(scope="module")
def fed():
    with LocalFederation(REGIONS, threshold=2, round=ROUND) as f:
        yield f


def together(fed, calls):
    """calls: (region, state_dict, weight); every call at once, each its region's only trainer."""
    out = [None] * len(calls)

    def go(i, rid, sd, w, rnd):
        r = fed.region(rid)
        try:
            out[i] = aggregate_state_dict(Client(r["api"], token_file=r["tokenFile"]), sd, rnd, weight=w, integer="average", expect=1, detailed=True)
        except Exception as e:  # returned, asserted by the test
            out[i] = e

    rnd = "sd-%d" % together.n
    together.n += 1
    ts = [threading.Thread(target=go, args=(i, *c, rnd)) for i, c in enumerate(calls)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


together.n = 0


def net(seed):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 10))
    sd = m.state_dict()
    sd["1.num_batches_tracked"] = torch.tensor(10 * seed)
    sd["3.bias"] = sd["3.bias"].to(torch.float16)
    return sd


def test_three_regions_state_dicts_come_back_as_the_weighted_mean_tensor_by_tensor(fed):
    sds = [net(1), net(2), net(3)]
    weights = [3, 1, 2]
    res = together(fed, [(r, sd, w) for r, sd, w in zip(REGIONS, sds, weights)])
    for r in res:
        assert not isinstance(r, Exception), r
    digest = hashlib.sha256(manifest_bytes([(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in sds[0].items()])).hexdigest()
    W = float(sum(weights))
    for r in res:
        assert r.manifest_digest == digest and sorted(r.contributors) == sorted(REGIONS)
        assert list(r.values) == list(sds[0])
        for k, v in sds[0].items():
            got = r.values[k]
            assert got.dtype == v.dtype and got.shape == v.shape, k
            ref = sum(w * sd[k].double() for sd, w in zip(sds, weights)) / W
            if v.dtype == torch.float32:
                assert bool(((got.double() - ref).abs() <= tolerance(ref, 3, W)).all()), k
            elif v.dtype == torch.float16:
                assert torch.equal(got, ref.float().to(torch.float16)) or float((got.double() - ref).abs().max()) < 1e-3, k
            else:
                assert got.item() == round(float(ref)), k  # (30 + 20 + 60) / 6 = 18.33 -> 18


@pytest.mark.parametrize(
    "change,name",
    [
        (lambda sd: OrderedDict((("conv.weight" if k == "0.weight" else k), v) for k, v in sd.items()), "0.weight"),  # a renamed tensor
        (lambda sd: OrderedDict(reversed(list(sd.items()))), "0.weight"),  # the same tensors in another order
        (lambda sd: OrderedDict((k, v.to(torch.float64) if k == "3.weight" else v) for k, v in sd.items()), "3.weight"),  # another dtype
    ],
)
def test_a_region_whose_model_differs_aborts_the_round_in_every_region_naming_the_tensor(fed, change, name):
    base = net(1)
    other = change(net(2))
    assert sum(v.numel() for v in other.values()) == sum(v.numel() for v in base.values())  # same flat length
    res = together(fed, [("eu", base, 1), ("us", base, 1), ("apac", other, 1)])
    by = dict(zip(("eu", "us", "apac"), res))
    for rid, r in by.items():  # nothing is revealed anywhere
        assert isinstance(r, MpcNodeError), (rid, r)
    # Whichever region's parameters reach a node first make the round that node's: a trainer
    # whose model differs from it is refused at intake (400 FIELD_MANIFEST_MISMATCH), and that can
    # be the odd region's trainer or, when apac's parameters arrived first, the others'. Otherwise
    # the regions compare parameters and abort before dealing (409 PROTOCOL_PARAMS_MISMATCH), or
    # are left with fewer regions than minContributors (409 PROTOCOL_BELOW_MIN_CONTRIBUTORS) when
    # another region's update was refused at intake. Every refusal that is about the model names
    # the first tensor that differs.
    named = {(400, "FIELD_MANIFEST_MISMATCH"), (409, "PROTOCOL_PARAMS_MISMATCH")}
    for rid, r in by.items():
        assert (r.status, r.code) in named | {(409, "PROTOCOL_BELOW_MIN_CONTRIBUTORS")}, (rid, r)
        if (r.status, r.code) in named:
            assert '"%s"' % name in r.message, (rid, r.message)
    if any(r.code == "PROTOCOL_BELOW_MIN_CONTRIBUTORS" for r in by.values()):
        assert any(r.status == 400 for r in by.values()), by  # only when an update was refused
