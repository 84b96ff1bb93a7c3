#!/usr/bin/env python3
"""A trainer in Python (standard library only): POST the update as raw little-endian float32 to
the region node's trainer API and read back the global weighted mean.

    python3 examples/trainer.py --node http://127.0.0.1:7202 --token-file mpc-data/us/api-token \
        --round epoch-1 [--params 1000] [--weight 100] [--seed 2]
"""
import argparse
import json
import math
import struct
import sys
import urllib.error
import urllib.request

p = argparse.ArgumentParser()
p.add_argument("--node", required=True)
p.add_argument("--token-file", required=True)
p.add_argument("--round", required=True)
p.add_argument("--params", type=int, default=1000)
p.add_argument("--weight", type=float, default=100)
p.add_argument("--seed", type=float, default=2)
a = p.parse_args()

update = [math.sin(0.01 * k + a.seed) for k in range(a.params)]
body = struct.pack("<%df" % len(update), *update)
token = open(a.token_file).read().strip()
url = "%s/v1/aggregate?round=%s&weight=%s&reduce=mean" % (a.node, a.round, a.weight)
req = urllib.request.Request(url, data=body, method="POST", headers={
    "Authorization": "Bearer " + token,
    "Content-Type": "application/octet-stream",
})
try:
    with urllib.request.urlopen(req, timeout=300) as res:
        raw = res.read()
        mean = struct.unpack("<%df" % (len(raw) // 4), raw)
        contributors = res.headers.get("x-mpc-contributors", "")
        weight = res.headers.get("x-mpc-total-weight", "")
except urllib.error.HTTPError as e:
    err = json.loads(e.read() or b"{}").get("error", {})
    print("trainer.py: %s: %s" % (err.get("code", e.code), err.get("message", "")), file=sys.stderr)
    sys.exit(1)
print("mean of regions %s, total weight %s: [%s, ...]" % (contributors, weight, ", ".join("%.6f" % v for v in mean[:4])))
