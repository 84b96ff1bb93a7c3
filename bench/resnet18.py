#!/usr/bin/env python3
"""A real architecture through the nodes: a torchvision ResNet-18 state_dict (11.7M parameters,
122 tensors with BatchNorm's buffers, random initialisation, nothing downloaded) aggregated by
one trainer in each of three regions of real node processes, each trainer its own process.

    npx tsc -p tsconfig.json && /usr/bin/python3 bench/resnet18.py [--json out.json]

Checks the answer tensor by tensor against the plaintext weighted mean (float64) within the
fixed-point tolerance (examples/fedavg-pytorch/fedavg.py ``tolerance``; integer tensors, sent
with integer="average", within 1/2 of it after rounding), and prints the round time, each node's
peak RSS (/proc/PID/status VmHWM) and each trainer's RSS growth during aggregate_state_dict
(peak reset with /proc/self/clear_refs just before the call).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(ROOT, "clients", "python"), os.path.join(ROOT, "examples", "fedavg-pytorch")]

REGIONS = ("eu", "us", "apac")
WEIGHTS = {"eu": 3, "us": 1, "apac": 2}


def status_kib(pid, key):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def state(seed, dtype="float32"):
    """The region's model: ResNet-18 initialised from ``seed``, its floating tensors in
    ``dtype``, its BatchNorm counters set to distinct integers so that averaging them is visible."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    sd = torchvision.models.resnet18(weights=None).state_dict()
    for k, v in sd.items():
        if v.dtype.is_floating_point:
            sd[k] = v.to(getattr(torch, dtype))
    for i, k in enumerate(k for k in sd if k.endswith("num_batches_tracked")):
        sd[k] = torch.tensor(seed * 100 + i, dtype=torch.int64)
    return sd


def trainer(a):
    """One region's trainer process: builds its model, resets the peak RSS, aggregates, reports."""
    import torch

    torch.set_num_threads(1)
    from mpc_node import Client, aggregate_state_dict

    sd = state(a.seed, a.dtype)
    client = Client(a.api, token_file=a.token_file, timeout=600)
    before = status_kib("self", "VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    t0 = time.perf_counter()
    res = aggregate_state_dict(client, sd, a.round, weight=a.weight, integer="average", expect=1, detailed=True)
    took = time.perf_counter() - t0
    peak = status_kib("self", "VmHWM")
    torch.save(res.values, a.out)
    print(json.dumps({"seconds": took, "rssBeforeKiB": before, "peakKiB": peak, "contributors": res.contributors, "clipFactor": res.clip_factor}))


def main(argv=None):
    import torch

    from fedavg import tolerance
    from local_federation import LocalFederation

    p = argparse.ArgumentParser()
    p.add_argument("--json")
    a = p.parse_args(argv)
    models = {r: state(k + 1) for k, r in enumerate(REGIONS)}
    first = models[REGIONS[0]]
    params = sum(v.numel() for v in first.values())
    norms = {r: float(torch.sqrt(sum((v.double() ** 2).sum() for v in sd.values()))) for r, sd in models.items()}
    clip = 2 * max(norms.values())
    rnd = {"clipL2": clip, "maxWeight": 100, "maxTrainersPerRound": 10, "collectMs": 60000, "minContributors": 3}
    print("ResNet-18: %d tensors, %d values (%.1f MB as float32); L2 norms %s; clipL2 %.0f" % (len(first), params, params * 4 / 1e6, {r: round(n, 1) for r, n in norms.items()}, clip))
    out_dir = os.path.join("/tmp", "mpc-node-resnet18-%d" % os.getpid())
    os.makedirs(out_dir, exist_ok=True)
    with LocalFederation(REGIONS, threshold=2, round=rnd) as fed:
        idle = {r["id"]: status_kib(r["pid"], "VmRSS") for r in fed.regions}
        procs = {}
        t0 = time.perf_counter()
        for k, rid in enumerate(REGIONS):
            r = fed.region(rid)
            procs[rid] = subprocess.Popen(
                [sys.executable, __file__, "--trainer", "--api", r["api"], "--token-file", r["tokenFile"], "--seed", str(k + 1), "--weight", str(WEIGHTS[rid]), "--round", "resnet18-%d" % os.getpid(), "--out", os.path.join(out_dir, rid + ".pt")],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        reports = {}
        for rid, pr in procs.items():
            out, err = pr.communicate(timeout=900)
            if pr.returncode != 0:
                raise SystemExit("trainer %s failed: %s" % (rid, err.strip()[-3000:]))
            reports[rid] = json.loads(out.strip().splitlines()[-1])
        wall = time.perf_counter() - t0
        nodes = {r["id"]: {"idleKiB": idle[r["id"]], "peakKiB": status_kib(r["pid"], "VmHWM")} for r in fed.regions}
    W = float(sum(WEIGHTS.values()))
    worst, checked = 0.0, 0
    results = {rid: torch.load(os.path.join(out_dir, rid + ".pt")) for rid in REGIONS}
    for name, v in first.items():
        ref = sum(WEIGHTS[r] * models[r][name].double() for r in REGIONS) / W
        tol = tolerance(ref, len(REGIONS), W)
        for rid in REGIONS:
            got = results[rid][name]
            assert got.dtype == v.dtype and got.shape == v.shape, name
            if v.dtype.is_floating_point:
                ratio = float(((got.double() - ref).abs() / tol).max())
                assert ratio <= 1, "%s (%s): off by %.3g x the tolerance" % (name, rid, ratio)
                worst = max(worst, ratio)
            else:
                assert float((got.double() - ref).abs().max()) <= 0.5 + float(tol.max()), name
        checked += 1
    for f in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, f))
    os.rmdir(out_dir)
    model_mib = params * 4 / 2**20
    print("all %d tensors equal the plaintext weighted mean within the fixed-point tolerance (worst %.3f of it), in all 3 regions" % (checked, worst))
    print("round (each trainer's call): %s s; wall %.2f s" % (", ".join("%s %.2f" % (r, reports[r]["seconds"]) for r in REGIONS), wall))
    for r in REGIONS:
        n, t = nodes[r], reports[r]
        print("%-5s node peak RSS %.0f MiB (idle %.0f MiB); trainer RSS growth during the call %.0f MiB (%.2f x the float32 model, %.0f MiB)"
              % (r, n["peakKiB"] / 1024, n["idleKiB"] / 1024, (t["peakKiB"] - t["rssBeforeKiB"]) / 1024, (t["peakKiB"] - t["rssBeforeKiB"]) / 1024 / model_mib, model_mib))
        assert sorted(t["contributors"]) == sorted(REGIONS) and t["clipFactor"] == 1.0
    summary = {"tensors": checked, "values": params, "worstToleranceRatio": worst, "trainers": reports, "nodes": nodes, "wallSeconds": wall}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=2)
    return summary


if __name__ == "__main__":
    if "--trainer" in sys.argv:
        p = argparse.ArgumentParser()
        for k in ("--api", "--token-file", "--round", "--out"):
            p.add_argument(k, required=True)
        p.add_argument("--seed", type=int, required=True)
        p.add_argument("--weight", type=float, required=True)
        p.add_argument("--dtype", default="float32")
        p.add_argument("--trainer", action="store_true")
        trainer(p.parse_args())
    else:
        main()
