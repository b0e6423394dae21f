//! Shared set-up of the token tests: signing keys (RSA made by `openssl genpkey`, EC P-256 made
//! by ring), a minter for compact JWS tokens, and a tiny HTTPS server on loopback that serves a
//! JWKS and an OIDC discovery document from a throw-away CA.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

use arkbridge_identity::IdentityError;

pub mod oidc;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA signing key with its public parts.
pub struct RsaKey {
    pair: RsaKeyPair,
    /// The SubjectPublicKeyInfo PEM, the "secret" of the HS256 key-confusion attack.
    pub public_pem: String,
}

impl RsaKey {
    fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("key.pem");
        // openssl is a test dependency of the workspace (.ci/run installs it); ring cannot
        // generate RSA keys.
        let out = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&pem)
            .output()
            .expect("openssl must be installed (.ci/run installs it)");
        assert!(out.status.success(), "openssl genpkey failed");
        let out = Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&pem)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl pkey -pubout failed");
        // genpkey writes PKCS#8 PEM; accept PKCS#1 too in case another openssl differs.
        let pair = match PrivateKeyDer::from_pem_file(&pem).unwrap() {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap(),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()).unwrap(),
            other => panic!("unexpected key format {other:?}"),
        };
        Self {
            pair,
            public_pem: String::from_utf8(out.stdout).unwrap(),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self, kid: &str) -> Value {
        let c = RsaPublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(&c.n), "e": b64(&c.e)})
    }

    /// The public key as a JWK without `alg` (usable for RS256 and PS256).
    pub fn jwk_any_alg(&self, kid: &str) -> Value {
        let mut jwk = self.jwk(kid);
        jwk.as_object_mut().unwrap().remove("alg");
        jwk
    }

    /// The PKCS#1 DER of the public key, another HS256 "secret" an attacker might try.
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public().as_ref().to_vec()
    }

    fn sign(&self, padding: &'static dyn signature::RsaEncoding, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(padding, &SystemRandom::new(), msg, &mut sig)
            .unwrap();
        sig
    }
}

/// Two RSA keys, generated once per test binary.
pub fn rsa_keys() -> &'static (RsaKey, RsaKey) {
    static KEYS: OnceLock<(RsaKey, RsaKey)> = OnceLock::new();
    KEYS.get_or_init(|| (RsaKey::generate(), RsaKey::generate()))
}

/// The main RSA key.
pub fn rsa() -> &'static RsaKey {
    &rsa_keys().0
}

/// Another RSA key (for signatures the published key does not verify).
pub fn other_rsa() -> &'static RsaKey {
    &rsa_keys().1
}

/// An EC P-256 key.
pub struct EcKey {
    pair: EcdsaKeyPair,
}

impl EcKey {
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        Self {
            pair: EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap(),
        }
    }

    pub fn jwk(&self, kid: &str) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
               "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }
}

/// How to sign a token.
pub enum Signer<'a> {
    Rs256(&'a RsaKey),
    Ps256(&'a RsaKey),
    Es256(&'a EcKey),
    /// HMAC-SHA256 with an arbitrary key (the key-confusion attack).
    Hs256(&'a [u8]),
    /// No signature at all (`alg: none`).
    Unsigned,
}

impl Signer<'_> {
    pub fn alg(&self) -> &'static str {
        match self {
            Signer::Rs256(_) => "RS256",
            Signer::Ps256(_) => "PS256",
            Signer::Es256(_) => "ES256",
            Signer::Hs256(_) => "HS256",
            Signer::Unsigned => "none",
        }
    }

    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            Signer::Rs256(k) => k.sign(&signature::RSA_PKCS1_SHA256, msg),
            Signer::Ps256(k) => k.sign(&signature::RSA_PSS_SHA256, msg),
            Signer::Es256(k) => k
                .pair
                .sign(&SystemRandom::new(), msg)
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Hs256(secret) => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
                ring::hmac::sign(&key, msg).as_ref().to_vec()
            }
            Signer::Unsigned => Vec::new(),
        }
    }
}

/// A compact JWS with header `{"alg", "kid", "typ": "JWT"}` plus `extra_header`.
pub fn mint_with_header(
    signer: &Signer<'_>,
    kid: &str,
    extra_header: Value,
    claims: &Value,
) -> String {
    let mut header = json!({"alg": signer.alg(), "kid": kid, "typ": "JWT"});
    if let Value::Object(extra) = extra_header {
        header.as_object_mut().unwrap().extend(extra);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// A compact JWS with the usual header.
pub fn mint(signer: &Signer<'_>, kid: &str, claims: &Value) -> String {
    mint_with_header(signer, kid, json!({}), claims)
}

/// Sets (or with `Value::Null`, removes) one claim.
pub fn with(mut claims: Value, name: &str, value: Value) -> Value {
    let map = claims.as_object_mut().unwrap();
    if value.is_null() {
        map.remove(name);
    } else {
        map.insert(name.to_string(), value);
    }
    claims
}

/// The Unix time now by the system clock.
pub fn now() -> i64 {
    arkbridge_identity::system_unix()
}

/// What the test server serves.
#[derive(Default)]
pub struct Served {
    pub jwks: Mutex<Value>,
    /// The discovery document; `None` serves the default one for the server's own URL.
    pub discovery: Mutex<Option<Value>>,
    pub jwks_hits: AtomicUsize,
    pub discovery_hits: AtomicUsize,
}

/// A loopback HTTPS server with its CA.
pub struct TestServer {
    pub base: String,
    pub ca_path: PathBuf,
    pub served: Arc<Served>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    pub fn set_jwks(&self, keys: Vec<Value>) {
        *self.served.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    pub fn jwks_hits(&self) -> usize {
        self.served.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.served.discovery_hits.load(Ordering::SeqCst)
    }
}

async fn jwks(State((served, _)): State<(Arc<Served>, String)>) -> axum::Json<Value> {
    served.jwks_hits.fetch_add(1, Ordering::SeqCst);
    axum::Json(served.jwks.lock().unwrap().clone())
}

async fn discovery(State((served, base)): State<(Arc<Served>, String)>) -> axum::Json<Value> {
    served.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let doc = served.discovery.lock().unwrap().clone().unwrap_or_else(|| {
        json!({
            "issuer": base,
            "jwks_uri": format!("{base}/jwks.json"),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "device_authorization_endpoint": format!("{base}/device"),
            "id_token_signing_alg_values_supported": ["RS256"],
        })
    });
    axum::Json(doc)
}

/// Starts the server with the given keys.
pub async fn serve(keys: Vec<Value>) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca_cert.pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![server_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let served = Arc::new(Served::default());
    *served.jwks.lock().unwrap() = json!({ "keys": keys });
    let router = Router::new()
        .route("/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .with_state((served.clone(), base.clone()));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                }
            });
        }
    });
    TestServer {
        base,
        ca_path,
        served,
        _dir: dir,
    }
}

/// Recognises the expected error variant.
pub type Check = fn(&IdentityError) -> bool;

/// Asserts the refusal's variant and that its message says what went wrong.
pub fn refused(result: Result<impl std::fmt::Debug, IdentityError>, ok: Check, word: &str) {
    let err = result.expect_err("the token must be refused");
    assert!(ok(&err), "unexpected error: {err:?}");
    assert!(
        err.to_string().contains(word),
        "`{err}` should mention `{word}`"
    );
}
