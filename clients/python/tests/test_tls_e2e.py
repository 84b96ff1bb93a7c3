"""HTTPS and client certificates against a real node: eu serves its trainer API over TLS with
client certificates of a trainers' CA (``--tls-cert``, ``--tls-key``, ``--tls-client-ca``),
us plain HTTP. Certificates are made with the ``openssl`` command (P-256, valid for a day)."""
import os
import shutil
import subprocess
import sys
import threading
from array import array

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "fedavg-pytorch"))

from local_federation import LocalFederation  # noqa: E402
from mpc_node import Client, MpcNodeError  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command to make test certificates")
NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d, name):
    cert, key = str(d / ("%s-ca.pem" % name)), str(d / ("%s-ca.key" % name))
    openssl("req", "-x509", "-new", *NEW_KEY, "-keyout", key, "-out", cert, "-subj", "/CN=%s test CA" % name)
    return cert, key


def issue(ca, d, file, subject, serial, use):
    cert, key = str(d / (file + ".pem")), str(d / (file + ".key"))
    ext = ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "extendedKeyUsage=serverAuth"] if use == "server" else ["-addext", "extendedKeyUsage=clientAuth"]
    openssl("req", "-x509", "-new", *NEW_KEY, "-keyout", key, "-out", cert, "-subj", subject, "-CA", ca[0], "-CAkey", ca[1],
            "-set_serial", str(serial), "-addext", "basicConstraints=critical,CA:FALSE", *ext)
    return cert, key


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = make_ca(d, "nodes")
    trainers = make_ca(d, "trainers")
    other = make_ca(d, "other")
    server = issue(ca, d, "eu-node", "/CN=eu-node", 0x1001, "server")
    args = {"eu": ["--tls-cert", server[0], "--tls-key", server[1], "--tls-client-ca", trainers[0]]}
    rnd = {"clipL2": 1e4, "collectMs": 20000, "minContributors": 2}
    with LocalFederation(("eu", "us"), threshold=2, round=rnd, node_args=args) as fed:
        yield {
            "fed": fed,
            "ca": ca[0],
            "other_ca": other[0],
            "trainer": issue(trainers, d, "trainer-7", "/CN=trainer-7", 0x7007, "client"),
            "stranger": issue(other, d, "stranger", "/CN=trainer-7", 0x7009, "client"),
        }


def test_a_trainer_with_a_client_certificate_and_no_token_aggregates_over_https(tls):
    fed = tls["fed"]
    eu, us = fed.region("eu"), fed.region("us")
    assert eu["api"].startswith("https://127.0.0.1:")
    cert, key = tls["trainer"]
    out = [None, None]

    def by_cert():
        out[0] = Client(eu["api"], ca_file=tls["ca"], cert_file=cert, key_file=key).aggregate_detailed("tls-1", array("f", [1, 2]), reduce="sum", expect=1)

    def by_token():
        out[1] = Client(us["api"], token_file=us["tokenFile"]).aggregate_detailed("tls-1", array("f", [10, 20]), reduce="sum", expect=1)

    ts = [threading.Thread(target=f) for f in (by_cert, by_token)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for r in out:
        assert list(r.values) == [11.0, 22.0] and sorted(r.contributors) == ["eu", "us"]


def test_https_with_the_token_and_no_client_certificate_passes_authentication(tls):
    eu = tls["fed"].region("eu")
    with pytest.raises(MpcNodeError) as e:
        Client(eu["api"], token_file=eu["tokenFile"], ca_file=tls["ca"]).aggregate("bad id!", array("f", [1]))
    assert (e.value.code, e.value.status) == ("API_BAD_REQUEST", 400)  # past the token check: the round id is refused


def test_another_cas_client_certificate_and_neither_token_nor_certificate_are_401(tls):
    eu = tls["fed"].region("eu")
    cert, key = tls["stranger"]
    with pytest.raises(MpcNodeError) as e:
        Client(eu["api"], ca_file=tls["ca"], cert_file=cert, key_file=key).aggregate("tls-2", array("f", [1]))
    assert (e.value.code, e.value.status) == ("API_UNAUTHORIZED", 401)
    assert e.value.message.startswith("client certificate refused")
    with pytest.raises(MpcNodeError) as e:
        Client(eu["api"], ca_file=tls["ca"]).aggregate("tls-2", array("f", [1]))
    assert (e.value.code, e.value.status) == ("API_UNAUTHORIZED", 401)


def test_a_node_certificate_of_an_unknown_ca_is_refused_without_retry(tls):
    eu = tls["fed"].region("eu")
    with pytest.raises(MpcNodeError) as e:
        Client(eu["api"], token_file=eu["tokenFile"], ca_file=tls["other_ca"], retries=3).aggregate("tls-3", array("f", [1]))
    assert e.value.code == "CLIENT_CONNECTION" and "CERTIFICATE_VERIFY_FAILED" in e.value.message
