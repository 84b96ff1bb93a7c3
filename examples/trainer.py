#!/usr/bin/env python3
"""A trainer in Python (standard library only): submit a synthetic update to the region node's
trainer API with the `mpc_node` client (clients/python, docs/python.md) and print the global
weighted mean.

    python3 examples/trainer.py --node http://127.0.0.1:7202 --token-file mpc-data/us/api-token \
        --round epoch-1 [--params 1000] [--weight 100] [--seed 2]
"""
import argparse
import math
import os
import sys
from array import array

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
from mpc_node import Client, MpcNodeError  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--node", required=True)
p.add_argument("--token-file", required=True)
p.add_argument("--round", required=True)
p.add_argument("--params", type=int, default=1000)
p.add_argument("--weight", type=float, default=100)
p.add_argument("--seed", type=float, default=2)
a = p.parse_args()

update = array("f", (math.sin(0.01 * k + a.seed) for k in range(a.params)))
try:
    res = Client(a.node, token_file=a.token_file).aggregate_detailed(a.round, update, weight=a.weight, reduce="mean")
except MpcNodeError as e:
    print("trainer.py: %s: %s" % (e.code, e.message), file=sys.stderr)
    sys.exit(1)
print("mean of regions %s, total weight %g: [%s, ...]" % (",".join(res.contributors), res.total_weight, ", ".join("%.6f" % v for v in res.values[:4])))
