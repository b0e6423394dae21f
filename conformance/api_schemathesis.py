"""arkbridge's own REST API (`arkbridge serve`) against the OpenAPI document it serves at
`/api/v1/openapi.json`, with schemathesis (pinned in requirements.txt).

A real `arkbridge sim` (conftest's `sim` fixture) and a real `arkbridge serve` on its OIDC
config (plus `[server.forge]` for the simulated Forge app) run as processes. The caller is
alice with an OIDC access token that PyJWT signs with the simulated provider's key. schemathesis
generates requests for every operation of the document (positive data, a bounded number of
examples, deterministic) and checks each answer: no server error, a documented status code, a
declared content type and a body that matches the response schema. `test_real_calls_conform`
then sends the calls a Forge macro makes for a seeded page (its runbooks, a run, its output by
cursor, the run, the explanation) and checks those answers the same way.

This file is not collected by the main conformance run (its name does not start with `test_`);
`crates/arkbridge/tests/api_conformance.rs` runs it by name.
"""

import json
import pathlib
import ssl
import subprocess
import tempfile
import time
import urllib.request

import jwt
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import BIN

CHECKS = dict(
    checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
)


class Server:
    """`arkbridge serve` on the simulator's OIDC config, on a free loopback port."""

    def __init__(self, sim, root: pathlib.Path):
        ident = sim.info["identity"]
        config = (sim.dir / "arkbridge-oidc.toml").read_text()
        config += (
            # The simulator writes `[server]` with its defaults; the Forge app is added to it.
            "\n[server.forge]\n"
            f"app_id = {json.dumps(ident['forge_app_id'])}\n"
            f"jwks_url = {json.dumps(ident['forge_jwks_url'])}\n"
            f"allowed_cloud_ids = [{json.dumps(ident['forge_cloud_id'])}]\n"
            f"ca_cert = {json.dumps(str(sim.info['ca_cert']))}\n"
        )
        path = root / "serve.toml"
        path.write_text(config)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", str(path), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in self.proc.stdout:
            if line.startswith("Listening on "):
                self.url = line.split(" ", 2)[2].strip()
                break
        else:
            raise RuntimeError("arkbridge serve stopped before listening")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        assert self.proc.returncode == 0, self.proc.returncode


def access_token(sim, email):
    """An access token for `email`, RS256 with the simulated provider's own key."""
    ident = sim.info["identity"]
    user = next(u for u in ident["users"] if u["email"] == email)
    ctx = ssl.create_default_context(cafile=sim.info["ca_cert"])
    with urllib.request.urlopen(ident["oidc_issuer"] + "/v1/keys", context=ctx) as r:
        kid = json.load(r)["keys"][0]["kid"]
    key = pathlib.Path(ident["oidc_signing_key"]).read_bytes()
    now = int(time.time())
    claims = {
        "iss": ident["oidc_issuer"], "aud": ident["oidc_api_audience"], "sub": email, "uid": user["sub"],
        "email": email, "email_verified": True, "iat": now, "nbf": now, "exp": now + 3600,
        "jti": f"AT.schemathesis-{now}", ident["oidc_groups_claim"]: user["groups"],
    }
    if ident.get("oidc_account_id_claim"):
        claims[ident["oidc_account_id_claim"]] = user["account_id"]
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def server(sim):
    with tempfile.TemporaryDirectory() as root:
        s = Server(sim, pathlib.Path(root))
        try:
            yield s
        finally:
            s.stop()


@pytest.fixture(scope="module")
def session(sim):
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + access_token(sim, "alice@example.com")
    return s


# The document `arkbridge serve` includes in its binary; `test_the_served_document_is_this_one`
# checks that the server serves exactly it.
SPEC = pathlib.Path(__file__).resolve().parent.parent / "crates" / "server" / "src" / "openapi.json"

schema = schemathesis.openapi.from_path(str(SPEC))
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE],
    max_examples=10,
    deterministic=True,
    with_security_parameters=False,
    database="none",
)


def test_the_served_document_is_this_one(server):
    served = requests.get(server.url + "/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("application/json")
    assert served.json() == json.loads(SPEC.read_text())
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert {"POST /api/v1/runs", "GET /api/v1/runs/{id}/output", "GET /api/v1/runs/{id}/events"} <= labels
    documented = sum(len(item) for item in json.loads(SPEC.read_text())["paths"].values())
    assert len(labels) == documented, sorted(labels)


@schema.parametrize()
@settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_generated_requests_conform(case, server, session):
    case.call_and_validate(base_url=server.url, session=session, **CHECKS)


def call(server, session, path, method="GET", **kwargs):
    case = schema[path][method].Case(**kwargs)
    return case.call_and_validate(base_url=server.url, session=session, **CHECKS)


def test_real_calls_conform(sim, server, session):
    pages = requests.get(
        sim.info["confluence_url"] + "/wiki/api/v2/pages", params={"title": "Payments DB health"},
        auth=("arkbridge@example.com", sim.info["confluence_token"]), verify=sim.info["ca_cert"],
    ).json()
    page_id = pages["results"][0]["id"]
    listed = call(server, session, "/api/v1/pages/{page_id}/runbooks",
                  path_parameters={"page_id": page_id}).json()
    assert listed["runbooks"][0]["name"] == "health"
    call(server, session, "/api/v1/explain", query={"page_id": page_id, "block": "health"})
    started = call(server, session, "/api/v1/runs", method="POST", media_type="application/json",
                   body={"page_id": page_id, "block": "health"})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    # The event stream ends with the run, so reading it whole waits for the end.
    events = call(server, session, "/api/v1/runs/{id}/events", path_parameters={"id": run_id})
    assert "event: done" in events.text, events.text
    page = call(server, session, "/api/v1/runs/{id}/output",
                path_parameters={"id": run_id}, query={"after": 0}).json()
    assert page["done"], page
    assert "*****" in "".join(c["text"] for c in page["chunks"]), page
    run = call(server, session, "/api/v1/runs/{id}", path_parameters={"id": run_id}).json()
    assert run["status"] == "succeeded", run
    call(server, session, "/api/v1/audit", query={"action": "api.call", "limit": 5})
    call(server, session, "/api/v1/audit/verify")
    restart = requests.get(
        sim.info["confluence_url"] + "/wiki/api/v2/pages", params={"title": "Restart payments API"},
        auth=("arkbridge@example.com", sim.info["confluence_token"]), verify=sim.info["ca_cert"],
    ).json()["results"][0]["id"]
    approvals = call(server, session, "/api/v1/approvals", query={"page": restart}).json()
    assert approvals, approvals
