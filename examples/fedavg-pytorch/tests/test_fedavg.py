"""The FedAvg example at reduced size against real node processes: its assertions (every secure
aggregate within the fixed-point tolerance of the plaintext mean, nothing clipped, all three
regions in every round, final accuracy within 0.5 points) hold, and it writes its plot."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import fedavg  # noqa: E402


def test_fedavg_across_three_real_regions_matches_plaintext(tmp_path):
    png, out = tmp_path / "acc.png", tmp_path / "fedavg.json"
    assert fedavg.main(["--rounds", "5", "--fraction", "0.5", "--local-epochs", "2", "--run-id", "t-fedavg", "--plot", str(png), "--json", str(out)]) == 0
    s = json.loads(out.read_text())
    assert [r["round"] for r in s["rounds"]] == [1, 2, 3, 4, 5]
    assert all(0 < r["errorRatio"] <= 1 for r in s["rounds"])  # a tolerance the aggregates do come near
    assert abs(s["finalSecure"] - s["finalPlaintext"]) <= 0.5
    assert s["finalSecure"] > 50  # it learned: ten classes, chance is 10%
    sizes = [t["examples"] for t in s["trainers"]]
    assert len(sizes) == 6 and len(set(sizes)) == 6  # two trainers per region, different amounts of data
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_split_is_label_skewed_and_uneven():
    trainers, Xte, yte = fedavg.split(0, 1.0, 2)
    for t in trainers:
        home = sum(int(d) in fedavg.HOME[t["region"]] for d in t["y"]) / len(t["y"])
        assert home > 0.7, t["name"]
    by_region = {}
    for t in trainers:
        by_region.setdefault(t["region"], []).append(len(t["y"]))
    assert all(a < b for a, b in by_region.values())
    assert len(yte) == 360


def test_the_tolerance_is_the_fixed_point_bound():
    import torch

    ref = torch.tensor([0.0, 1.0], dtype=torch.float64)
    tol = fedavg.tolerance(ref, 6, 1000.0, scale_bits=16)
    fp = 6 * 2.0**-17 / 1000
    assert torch.allclose(tol, torch.tensor([fp + 2.0**-23 * fp, fp + 2.0**-23 * (1 + fp)], dtype=torch.float64), rtol=0, atol=0)
