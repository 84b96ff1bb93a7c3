"""Real mpc-node processes for the example and the tests, from Python: runs
federation.ts (built into dist/) and stops its nodes when the ``with`` block ends."""
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "dist", "examples", "fedavg-pytorch", "federation.js")



class LocalFederation:
    """``with LocalFederation(["eu", "us", "apac"], threshold=2, round={...}) as fed:`` starts
    one node process per region on 127.0.0.1 (free ports); ``fed.regions`` is a list of dicts
    with ``id``, ``api`` (the trainer API URL), ``tokenFile`` and ``pid``. ``node_args``: more
    ``mpc-node start`` flags per region id (e.g. ``--tls-cert``/``--tls-key``: that region then
    serves https)."""

    def __init__(self, regions=("eu", "us", "apac"), threshold=2, round=None, node_args=None, node="node"):
        self.args = [node, SCRIPT, "--regions", ",".join(regions), "--threshold", str(threshold), "--round", json.dumps(round or {}), "--node-args", json.dumps(node_args or {})]
        self.proc = None
        self.regions = []

    def __enter__(self):
        if not os.path.exists(SCRIPT):
            raise RuntimeError("%s is missing: run `npx tsc -p tsconfig.json` (or npm ci) in %s first" % (SCRIPT, ROOT))
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode(errors="replace")
            self.proc.wait()
            raise RuntimeError("the federation did not start: %s" % err.strip())
        info = json.loads(line)
        self.regions = info["regions"]
        self.config = info["config"]
        return self

    def region(self, rid):
        return next(r for r in self.regions if r["id"] == rid)

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return False
