#!/usr/bin/env python3
"""FedAvg of a small PyTorch MLP on scikit-learn's bundled digits, across three regions of real
mpc-node processes, beside the same run in plaintext in-process FedAvg with the same seeds.

Each region (eu, us, apac) has trainers with different amounts of data, split non-IID by label
(each region holds mostly its own digits). Every round each trainer starts from the global
model, trains a few local epochs, and sends its delta (new weights minus the round's weights) as
a named-tensor state_dict weighted by its number of examples; every trainer gets the weighted
mean delta back and applies it. The plaintext run computes the same mean in float64.

    npx tsc -p tsconfig.json && /usr/bin/python3 examples/fedavg-pytorch/fedavg.py [--rounds 20] [--plot docs/fedavg-accuracy.png]

It prints per round the test accuracy of both runs and the secure round's time, and asserts:
every secure aggregate equals the plaintext weighted mean of the same deltas within the
fixed-point tolerance (``tolerance`` below), no update was clipped, and the final test accuracy
is within 0.5 points of the plaintext run's.
"""
import argparse
import json
import os
import sys
import threading
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "clients", "python"), HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from local_federation import LocalFederation  # noqa: E402
from mpc_node import Client, aggregate_state_dict  # noqa: E402

REGIONS = ("eu", "us", "apac")
#: the digits each region holds most of (label skew)
HOME = {"eu": (0, 1, 2, 3), "us": (4, 5, 6), "apac": (7, 8, 9)}
SCALE_BITS = 16  # round.scaleBits, the default (docs/configuration.md)
ROUND = {"clipL2": 1000, "maxWeight": 10000, "maxTrainersPerRound": 10, "collectMs": 30000, "minContributors": 3}


def split(seed, fraction, trainers_per_region, own=0.85):
    """Train/test split, then the train set dealt to trainers: a region gets ``own`` of the
    examples of its home digits and a share of the rest; its trainers get unequal parts
    (sizes in the ratio 1:2:3:...)."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)
    rng = np.random.default_rng(seed)
    n = int(len(ytr) * fraction)
    idx = rng.permutation(len(ytr))[:n]
    Xtr, ytr = Xtr[idx], ytr[idx]
    region_of = np.empty(n, dtype=object)
    for i, label in enumerate(ytr):
        home = next(r for r in REGIONS if label in HOME[r])
        others = [r for r in REGIONS if r != home]
        region_of[i] = home if rng.random() < own else others[rng.integers(len(others))]
    trainers = []
    for r in REGIONS:
        mine = rng.permutation(np.flatnonzero(region_of == r))
        parts = np.arange(1, trainers_per_region + 1)
        cuts = np.cumsum(parts)[:-1] * len(mine) // parts.sum()
        for k, part in enumerate(np.split(mine, cuts)):
            trainers.append({"region": r, "name": "%s-%d" % (r, k), "X": torch.from_numpy(Xtr[part]), "y": torch.from_numpy(ytr[part]).long()})
    return trainers, torch.from_numpy(Xte), torch.from_numpy(yte).long()


def model(seed, hidden):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))


def local_delta(global_sd, trainer, hidden, epochs, lr, batch, seed):
    """The trainer's delta after ``epochs`` of SGD from the global weights (deterministic: the
    shuffles come from ``seed``)."""
    m = model(0, hidden)
    m.load_state_dict(global_sd)
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    X, y = trainer["X"], trainer["y"]
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), batch):
            b = order[i : i + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(X[b]), y[b]).backward()
            opt.step()
    return OrderedDict((k, (v - global_sd[k]).detach()) for k, v in m.state_dict().items())


def plain_mean(deltas, weights):
    """The weighted mean in float64 of the float32 deltas: the exact value the secure round
    approximates."""
    W = float(sum(weights))
    return OrderedDict((k, sum(w * d[k].double() for d, w in zip(deltas, weights)) / W) for k in deltas[0])


def tolerance(ref, n, total_weight, scale_bits=SCALE_BITS):
    """Per value: each of the n updates is encoded as round(v * w * 2^f), off by at most
    2^-(f+1), so the weighted sum is off by n 2^-(f+1) and the mean by n 2^-(f+1) / W; the mean
    is then rounded twice to float32 (the sum scaled by 2^-f, then divided by W), each within
    2^-24 of its value."""
    fp = n * 2.0 ** -(scale_bits + 1) / total_weight
    return fp + 2.0**-23 * (ref.abs() + fp)


def accuracy(sd, hidden, X, y):
    m = model(0, hidden)
    m.load_state_dict(sd)
    with torch.no_grad():
        return float((m(X).argmax(1) == y).double().mean()) * 100


def apply(sd, mean):
    return OrderedDict((k, (v.double() + mean[k].double()).float()) for k, v in sd.items())


def secure_round(fed, round_id, deltas, trainers):
    """Every trainer posts its delta to its region's node at once; returns each one's Result."""
    results, errors = [None] * len(trainers), []

    def post(i):
        t = trainers[i]
        r = fed.region(t["region"])
        try:
            results[i] = aggregate_state_dict(
                Client(r["api"], token_file=r["tokenFile"], timeout=180), deltas[i], round_id, weight=len(t["y"]), expect=t["per_region"], detailed=True
            )
        except Exception as e:  # reported below, after every thread ended
            errors.append("%s: %s" % (t["name"], e))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(trainers))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError("round %s: %s" % (round_id, "; ".join(errors)))
    return results


def run(args, fed=None):
    torch.set_num_threads(1)
    trainers, Xte, yte = split(args.seed, args.fraction, args.trainers_per_region)
    for t in trainers:
        t["per_region"] = args.trainers_per_region
    weights = [len(t["y"]) for t in trainers]
    init = model(args.seed, args.hidden).state_dict()
    plain, secure = OrderedDict((k, v.clone()) for k, v in init.items()), OrderedDict((k, v.clone()) for k, v in init.items())
    rows = []
    home = lambda t: sum(int(d) in HOME[t["region"]] for d in t["y"]) / len(t["y"]) * 100  # noqa: E731
    print("trainers: %s" % ", ".join("%s %d examples (%.0f%% digits %s)" % (t["name"], len(t["y"]), home(t), "".join(map(str, HOME[t["region"]]))) for t in trainers))
    print("round  plaintext acc  secure acc  secure round s  max |secure - plaintext mean| / tolerance")
    for rnd in range(1, args.rounds + 1):
        seeds = [args.seed * 100003 + rnd * 101 + i for i in range(len(trainers))]
        # plaintext in-process FedAvg
        pd = [local_delta(plain, t, args.hidden, args.local_epochs, args.lr, args.batch, s) for t, s in zip(trainers, seeds)]
        plain = apply(plain, plain_mean(pd, weights))
        # the same through the nodes
        sd = [local_delta(secure, t, args.hidden, args.local_epochs, args.lr, args.batch, s) for t, s in zip(trainers, seeds)]
        t0 = time.perf_counter()
        results = secure_round(fed, "%s-r%d" % (args.run_id, rnd), sd, trainers)
        took = time.perf_counter() - t0
        got = results[0].values
        for res in results[1:]:  # every trainer received the same aggregate
            assert all(torch.equal(res.values[k], got[k]) for k in got), "trainers received different aggregates"
        for t, res in zip(trainers, results):
            assert res.clip_factor == 1.0, "%s was clipped (factor %s): raise round.clipL2" % (t["name"], res.clip_factor)
            assert sorted(res.contributors) == sorted(REGIONS), "round %d: contributors %s" % (rnd, res.contributors)
            assert res.total_weight == sum(weights)
        ref = plain_mean(sd, weights)
        ratio = max(float(((got[k].double() - ref[k]).abs() / tolerance(ref[k], len(trainers), sum(weights))).max()) for k in ref)
        assert ratio <= 1.0, "round %d: the secure mean is off by %.3g x the fixed-point tolerance" % (rnd, ratio)
        secure = apply(secure, got)
        row = {"round": rnd, "plaintext": accuracy(plain, args.hidden, Xte, yte), "secure": accuracy(secure, args.hidden, Xte, yte), "seconds": took, "errorRatio": ratio}
        rows.append(row)
        print("%5d  %12.2f%%  %9.2f%%  %14.3f  %.3f" % (rnd, row["plaintext"], row["secure"], took, ratio))
    drift = max(float((secure[k].double() - plain[k].double()).abs().max()) for k in plain)
    final = rows[-1]
    summary = {
        "rounds": rows,
        "trainers": [{"name": t["name"], "examples": len(t["y"])} for t in trainers],
        "testExamples": len(yte),
        "finalPlaintext": final["plaintext"],
        "finalSecure": final["secure"],
        "maxParamDrift": drift,
        "medianRoundSeconds": float(np.median([r["seconds"] for r in rows])),
    }
    print("final test accuracy: plaintext %.2f%%, secure %.2f%% (%d test examples); largest parameter difference %.3g; median secure round %.3f s"
          % (final["plaintext"], final["secure"], len(yte), drift, summary["medianRoundSeconds"]))
    assert abs(final["secure"] - final["plaintext"]) <= 0.5, "final accuracy differs by more than 0.5 points"
    return summary


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    r = [x["round"] for x in rows]
    ax.plot(r, [x["plaintext"] for x in rows], "o-", label="plaintext FedAvg (in process)", linewidth=2.5, alpha=0.6)
    ax.plot(r, [x["secure"] for x in rows], "x--", label="mpc-node, 3 regions", color="black")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("FedAvg of an MLP on digits, label-skewed across eu, us, apac")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--local-epochs", type=int, default=2)
    p.add_argument("--trainers-per-region", type=int, default=2)
    p.add_argument("--fraction", type=float, default=1.0, help="share of the training set to use (tests use less)")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--run-id", default="fedavg-%d" % os.getpid())
    p.add_argument("--plot", help="write the accuracy per round as a PNG here")
    p.add_argument("--json", help="write the figures as JSON here")
    args = p.parse_args(argv)
    with LocalFederation(REGIONS, threshold=2, round=ROUND) as fed:
        summary = run(args, fed)
    if args.plot:
        plot(summary["rounds"], args.plot)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
