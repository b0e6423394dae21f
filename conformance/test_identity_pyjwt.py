"""The simulated OIDC provider and Forge token minter against PyJWT (pinned in requirements.txt).

PyJWT fetches the simulator's JWKS with `PyJWKClient` and verifies what the simulator issues: an
ID token and an access token from a real authorization-code login with PKCE, and a Forge
Invocation Token. PyJWT then mints tokens itself, RS256 with the simulator's own key (the file
named in sim.json) and deliberately flawed ones (expired, not yet valid, wrong audience, wrong
issuer, unknown key, bad signature, `alg: none`, HS256 keyed with the public key).

arkbridge has no HTTP endpoint that verifies tokens yet, so the flawed tokens go to the
simulator's UserInfo endpoint (which checks access tokens as Okta's does) and to PyJWT itself,
and both must refuse each one. arkbridge's own verifiers meet the same flaws in Rust:
crates/sim/tests/oidc_token_refusals.rs and crates/sim/tests/forge_fit.rs.
"""

import base64
import hashlib
import hmac
import json
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import ADMIN_PASSWORD

WEB = "arkbridge-web"
CALLBACK = "http://127.0.0.1/auth/callback"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Leaves redirects to the test, which reads the code from `Location`."""

    def redirect_request(self, *args, **kwargs):
        return None


def opener(sim):
    ctx = ssl.create_default_context(cafile=sim.info["ca_cert"])
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx), NoRedirect()), ctx


def call(sim, url, data=None, headers=None, method=None):
    """One request; returns (status, headers, body bytes), errors included."""
    op, _ = opener(sim)
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with op.open(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def ident(sim):
    return sim.info["identity"]


def password_of(sim, email):
    return next(u["password"] for u in ident(sim)["users"] if u["email"] == email)


def login(sim, email="alice@example.com"):
    """An authorization-code login with PKCE for the web client; returns the token response."""
    issuer = ident(sim)["oidc_issuer"]
    verifier = b64url(secrets.token_bytes(32))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    form = {
        "client_id": WEB, "redirect_uri": CALLBACK, "response_type": "code",
        "scope": "openid email profile", "state": "s-1", "nonce": "n-1",
        "code_challenge": challenge, "code_challenge_method": "S256",
        "username": email, "password": password_of(sim, email),
    }
    status, headers, _ = call(sim, issuer + "/v1/authorize", urllib.parse.urlencode(form).encode())
    assert status == 302, status
    query = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)
    assert query["state"] == ["s-1"]
    secret = next(c["client_secret"] for c in ident(sim)["oidc_clients"] if c["client_id"] == WEB)
    exchange = {"grant_type": "authorization_code", "code": query["code"][0],
                "redirect_uri": CALLBACK, "code_verifier": verifier}
    status, _, body = call(sim, issuer + "/v1/token", urllib.parse.urlencode(exchange).encode(),
                           {"Authorization": basic(WEB, secret)})
    assert status == 200, body
    return json.loads(body)


def discovery(sim):
    _, _, body = call(sim, ident(sim)["oidc_issuer"] + "/.well-known/openid-configuration")
    return json.loads(body)


def jwks_client(sim, url):
    _, ctx = opener(sim)
    return jwt.PyJWKClient(url, ssl_context=ctx)


@pytest.fixture(scope="module")
def tokens(sim):
    return login(sim)


def test_pyjwt_verifies_an_id_token_and_an_access_token_from_a_pkce_login(sim, tokens):
    meta = discovery(sim)
    issuer = ident(sim)["oidc_issuer"]
    assert meta["issuer"] == issuer
    assert meta["code_challenge_methods_supported"] == ["S256"]
    keys = jwks_client(sim, meta["jwks_uri"])
    id_token = tokens["id_token"]
    claims = jwt.decode(id_token, keys.get_signing_key_from_jwt(id_token).key, algorithms=["RS256"],
                        audience=WEB, issuer=issuer,
                        options={"require": ["exp", "iat", "nbf", "sub", "jti", "aud", "iss"]})
    alice = next(u for u in ident(sim)["users"] if u["email"] == "alice@example.com")
    assert claims["sub"] == alice["sub"]
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    assert claims["nonce"] == "n-1"
    assert claims["groups"] == ["platform-admins"]
    assert claims["atlassian_account_id"] == alice["account_id"]
    # OIDC Core 3.1.3.6: at_hash is the left half of the access token's SHA-256.
    access = tokens["access_token"]
    assert claims["at_hash"] == b64url(hashlib.sha256(access.encode()).digest()[:16])
    assert jwt.get_unverified_header(id_token)["kid"] == keys.get_signing_key_from_jwt(id_token).key_id

    api = ident(sim)["oidc_api_audience"]
    access_claims = jwt.decode(access, keys.get_signing_key_from_jwt(access).key,
                               algorithms=["RS256"], audience=api, issuer=issuer)
    assert access_claims["cid"] == WEB and access_claims["uid"] == alice["sub"]
    assert access_claims["groups"] == ["platform-admins"]
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(access, keys.get_signing_key_from_jwt(access).key, algorithms=["RS256"],
                   audience=WEB, issuer=issuer)


def test_pyjwt_verifies_a_forge_invocation_token(sim):
    info = ident(sim)
    alice = next(u for u in info["users"] if u["email"] == "alice@example.com")
    body = json.dumps({"accountId": alice["account_id"], "spaceKey": "OPS"}).encode()
    status, _, out = call(sim, info["forge_fit_url"], body,
                          {"Authorization": basic("Administrator", ADMIN_PASSWORD),
                           "Content-Type": "application/json"})
    assert status == 200, out
    token = json.loads(out)["token"]
    keys = jwks_client(sim, info["forge_jwks_url"])
    key = keys.get_signing_key_from_jwt(token)
    assert key.key_id.startswith("forge/invocation-token/")
    app = "ari:cloud:ecosystem::app/" + info["forge_app_id"]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=app,
                        issuer="forge/invocation-token",
                        options={"require": ["exp", "iat", "nbf", "jti"]})
    assert claims["principal"] == alice["account_id"] == claims["context"]["accountId"]
    assert claims["exp"] - claims["iat"] == 25
    assert claims["context"]["cloudId"] == info["forge_cloud_id"] == sim.info["confluence_cloud_id"]
    assert claims["app"]["module"]["type"] == "xen:macro"


def test_pyjwt_refuses_a_tampered_simulator_token(sim, tokens):
    token = tokens["access_token"]
    head, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["platform-admins", "vault-admins"]
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    keys = jwks_client(sim, discovery(sim)["jwks_uri"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, keys.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                   audience=ident(sim)["oidc_api_audience"])


def userinfo(sim, token):
    status, headers, _ = call(sim, ident(sim)["oidc_issuer"] + "/v1/userinfo",
                              headers={"Authorization": "Bearer " + token})
    return status, headers.get("WWW-Authenticate", "")


def test_tokens_pyjwt_mints_with_the_simulators_key_and_each_flaw_is_refused(sim, tokens):
    info = ident(sim)
    issuer, api = info["oidc_issuer"], info["oidc_api_audience"]
    with open(info["oidc_signing_key"], "rb") as f:
        sim_key = serialization.load_pem_private_key(f.read(), password=None)
    own_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    base = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    now = int(time.time())

    def claims(**changes):
        out = dict(base, jti="AT.pyjwt-" + secrets.token_hex(8))
        out.update(changes)
        return out

    # A token PyJWT signs with the simulator's key is one the simulator accepts.
    valid = jwt.encode(claims(), sim_key, algorithm="RS256", headers={"kid": kid})
    assert userinfo(sim, valid)[0] == 200

    public_pem = sim_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to HMAC with a public key, so the confusion token is built by hand.
    with pytest.raises(jwt.InvalidKeyError):
        jwt.encode(claims(), public_pem, algorithm="HS256")
    hs_input = b64url(json.dumps({"alg": "HS256", "kid": kid}).encode()) + "." + \
        b64url(json.dumps(claims()).encode())
    hs256 = hs_input + "." + b64url(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())

    flawed = {
        "expired": jwt.encode(claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600), sim_key,
                              algorithm="RS256", headers={"kid": kid}),
        "not yet valid": jwt.encode(claims(iat=now + 600, nbf=now + 600, exp=now + 4200), sim_key,
                                    algorithm="RS256", headers={"kid": kid}),
        "wrong aud": jwt.encode(claims(aud="api://someone-else"), sim_key, algorithm="RS256",
                                headers={"kid": kid}),
        "wrong iss": jwt.encode(claims(iss="https://evil.example.com"), sim_key, algorithm="RS256",
                                headers={"kid": kid}),
        "unknown kid": jwt.encode(claims(), own_key, algorithm="RS256", headers={"kid": "pyjwt-1"}),
        "bad signature": jwt.encode(claims(), own_key, algorithm="RS256", headers={"kid": kid}),
        "alg none": jwt.encode(claims(), None, algorithm="none", headers={"kid": kid}),
        "HS256 with the public key": hs256,
    }
    keys = jwks_client(sim, discovery(sim)["jwks_uri"])
    sim_public = keys.get_signing_key(kid).key
    for name, token in flawed.items():
        status, challenge = userinfo(sim, token)
        assert status == 401, name
        assert 'error="invalid_token"' in challenge, (name, challenge)
        with pytest.raises((jwt.InvalidTokenError, jwt.PyJWKClientError)):
            key = sim_public if name != "unknown kid" else keys.get_signing_key_from_jwt(token).key
            jwt.decode(token, key, algorithms=["RS256"], audience=api, issuer=issuer)
