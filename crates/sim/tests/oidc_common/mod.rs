//! Shared helpers of the identity tests: a simulator with a known admin password, an HTTPS client
//! that does not follow redirects (to read the authorization code), the PKCE and sign-in steps
//! of a browser login, the simulator's admin calls, and verifiers from arkbridge-identity
//! configured from `SimInfo`.

#![allow(dead_code, unreachable_pub)]

use arkbridge_identity::{ForgeConfig, ForgeVerifier, OidcConfig, OidcVerifier};
use arkbridge_sim::{IdpUserInfo, SimInfo};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{self, ADMIN_PASSWORD, Sim};

pub const WEB: &str = "arkbridge-web";
pub const CLI: &str = "arkbridge-cli";

/// A simulator on the demo seed with a known `Administrator` password.
pub async fn start() -> Sim {
    start_with(&common::with_admin_password(arkbridge_sim::DEMO_SEED)).await
}

pub async fn start_with(seed: &str) -> Sim {
    common::start_with(Some(seed), std::time::Duration::from_millis(20)).await
}

/// A client trusting the simulator CA that leaves redirects to the test.
pub fn browser(info: &SimInfo) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_cert).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn user<'a>(info: &'a SimInfo, email: &str) -> &'a IdpUserInfo {
    info.identity
        .users
        .iter()
        .find(|u| u.email == email)
        .unwrap()
}

pub fn secret(info: &SimInfo, client_id: &str) -> Option<String> {
    info.identity
        .oidc_clients
        .iter()
        .find(|c| c.client_id == client_id)
        .unwrap()
        .client_secret
        .clone()
}

pub const FORM: &str = "application/x-www-form-urlencoded";

/// An `application/x-www-form-urlencoded` body.
pub fn form_body<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The parameters of an authorization request.
pub fn auth_params<'a>(
    client_id: &'a str,
    redirect_uri: &'a str,
    challenge: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-42"),
        ("nonce", "n-42"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Posts the sign-in form; returns the status and the `Location` header.
pub async fn sign_in(
    c: &reqwest::Client,
    info: &SimInfo,
    params: &[(&str, &str)],
    username: &str,
    password: &str,
) -> (u16, Option<url::Url>) {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("username", username));
    form.push(("password", password));
    let resp = c
        .post(format!("{}/v1/authorize", info.identity.oidc_issuer))
        .header("content-type", FORM)
        .body(form_body(&form))
        .send()
        .await
        .unwrap();
    let location = resp
        .headers()
        .get("location")
        .map(|l| url::Url::parse(l.to_str().unwrap()).unwrap());
    (resp.status().as_u16(), location)
}

/// A query parameter of a redirect.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Signs in as `email` through the web client; returns the code and the PKCE verifier.
pub async fn code_for(c: &reqwest::Client, info: &SimInfo, email: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let params = auth_params(WEB, "http://127.0.0.1/auth/callback", &challenge);
    let (status, location) = sign_in(c, info, &params, email, &user(info, email).password).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert_eq!(param(&location, "state").as_deref(), Some("st-42"));
    (param(&location, "code").unwrap(), verifier)
}

/// Posts to the token endpoint (form `params`, optional basic credentials); returns the status
/// and the JSON body.
pub async fn token(
    c: &reqwest::Client,
    info: &SimInfo,
    params: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let mut req = c
        .post(format!("{}/v1/token", info.identity.oidc_issuer))
        .header("content-type", FORM)
        .body(form_body(params));
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Exchanges a web-client code (client_secret_basic).
pub async fn exchange(
    c: &reqwest::Client,
    info: &SimInfo,
    code: &str,
    verifier: &str,
) -> (u16, Value) {
    let secret = secret(info, WEB).unwrap();
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", "http://127.0.0.1/auth/callback"),
        ("code_verifier", verifier),
    ];
    token(c, info, &params, Some((WEB, &secret))).await
}

/// An admin call on the identity server as `Administrator`.
pub async fn admin(c: &reqwest::Client, info: &SimInfo, path: &str, body: Value) -> (u16, Value) {
    let resp = c
        .post(format!("{}{path}", info.identity.idp_url))
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// Moves the identity services' clock by `secs`.
pub async fn advance_clock(c: &reqwest::Client, info: &SimInfo, secs: i64) {
    let (status, _) = admin(
        c,
        info,
        "/__arkbridge_sim/clock",
        json!({"advance_secs": secs}),
    )
    .await;
    assert_eq!(status, 200);
}

/// An OIDC verifier for the web client, configured from `SimInfo` only.
pub fn oidc_verifier(info: &SimInfo, adjust: impl FnOnce(&mut OidcConfig)) -> OidcVerifier {
    let id = &info.identity;
    let mut config = OidcConfig::new(id.oidc_issuer.clone(), WEB);
    config.api_audience = Some(id.oidc_api_audience.clone());
    config.groups_claim = id.oidc_groups_claim.clone();
    config.ca_cert = Some(info.ca_cert.clone());
    adjust(&mut config);
    OidcVerifier::new(config).unwrap()
}

/// A Forge verifier configured from `SimInfo` only.
pub fn forge_verifier(info: &SimInfo, adjust: impl FnOnce(&mut ForgeConfig)) -> ForgeVerifier {
    let id = &info.identity;
    let mut config = ForgeConfig::new(id.forge_app_id.clone());
    config.jwks_url = id.forge_jwks_url.clone();
    config.allowed_cloud_ids = vec![id.forge_cloud_id.clone()];
    config.ca_cert = Some(info.ca_cert.clone());
    adjust(&mut config);
    ForgeVerifier::new(&config).unwrap()
}

/// The decoded header and payload of a compact JWS (not verified).
pub fn decode(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut part = || {
        let bytes = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(), part())
}

/// Mints a Forge Invocation Token through the admin endpoint.
pub async fn mint_fit(c: &reqwest::Client, info: &SimInfo, body: Value) -> (u16, Value) {
    let resp = c
        .post(&info.identity.forge_fit_url)
        .basic_auth("Administrator", Some(ADMIN_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// How a test-minted token is signed.
#[derive(Clone, Copy)]
pub enum Sig<'a> {
    /// RS256 with the PKCS#8 PEM key in this file (the simulator writes its keys so).
    Rs256(&'a std::path::Path),
    /// HMAC-SHA256 with these bytes as the key (the key-confusion attack).
    Hs256(&'a [u8]),
    /// `alg: none`, no signature.
    None,
}

/// Mints a compact JWS with header `{"alg", "kid"}`.
pub fn mint(sig: Sig<'_>, kid: &str, claims: &Value) -> String {
    use ring::signature::RsaKeyPair;
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;

    let alg = match sig {
        Sig::Rs256(_) => "RS256",
        Sig::Hs256(_) => "HS256",
        Sig::None => "none",
    };
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let input = format!(
        "{}.{}",
        b64(json!({"alg": alg, "kid": kid}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match sig {
        Sig::Rs256(path) => {
            let der = PrivatePkcs8KeyDer::from_pem_file(path).unwrap();
            let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
            let mut out = vec![0; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut out,
            )
            .unwrap();
            out
        }
        Sig::Hs256(key) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Sig::None => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

/// The key id and the PKCS#1 DER public key of the first key in a JWKS.
pub async fn first_key(c: &reqwest::Client, jwks_url: &str) -> (String, Vec<u8>) {
    let jwks: Value = c.get(jwks_url).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    let part = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    (
        key["kid"].as_str().unwrap().to_string(),
        pkcs1_der(&part("n"), &part("e")),
    )
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn pkcs1_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(n: usize) -> Vec<u8> {
        match n {
            0..=127 => vec![n as u8],
            128..=255 => vec![0x81, n as u8],
            _ => vec![0x82, (n >> 8) as u8, n as u8],
        }
    }
    fn int(v: &[u8]) -> Vec<u8> {
        let mut body = if v[0] & 0x80 != 0 {
            vec![0]
        } else {
            Vec::new()
        };
        body.extend_from_slice(v);
        let mut out = vec![0x02];
        out.extend(len(body.len()));
        out.extend(body);
        out
    }
    let mut body = int(n);
    body.extend(int(e));
    let mut out = vec![0x30];
    out.extend(len(body.len()));
    out.extend(body);
    out
}
