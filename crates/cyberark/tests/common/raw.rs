//! Plain reqwest access to the simulator, for the reference tests that check what the simulator
//! itself answers (status and body) to requests the arkbridge clients never send: lower-case
//! parameter names, a missing AppID, odd JSON key casing, a trailing slash.

use arkbridge_sim::SimInfo;
use serde_json::Value;

/// A reqwest client that trusts the simulator's CA, with the bridge's client certificate when
/// `with_identity` (the CCP requires it for the demo AppID).
pub(crate) fn client(info: &SimInfo, with_identity: bool) -> reqwest::Client {
    // reqwest is built without a default crypto provider; the clients under test use ring too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&info.ca_cert).unwrap()).unwrap();
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]);
    if with_identity {
        let mut pem = std::fs::read(&info.client_cert).unwrap();
        pem.extend(std::fs::read(&info.client_key).unwrap());
        builder = builder.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// Status and JSON body (`Null` when empty or not JSON) of an answer.
pub(crate) async fn answer(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// `GET {ccp_url}{path_and_query}` with the client certificate.
pub(crate) async fn ccp_get(info: &SimInfo, path_and_query: &str) -> (u16, Value) {
    let c = client(info, true);
    answer(
        c.get(format!("{}{path_and_query}", info.ccp_url))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// PVWA CyberArk logon with a JSON body as given; returns status and body.
pub(crate) async fn logon_body(info: &SimInfo, body: Value) -> (u16, Value) {
    let c = client(info, false);
    answer(
        c.post(format!(
            "{}/PasswordVault/API/auth/Cyberark/Logon",
            info.pvwa_url
        ))
        .json(&body)
        .send()
        .await
        .unwrap(),
    )
    .await
}

/// PVWA CyberArk logon; returns the decoded token.
pub(crate) async fn logon(info: &SimInfo, user: &str, password: &str, concurrent: bool) -> String {
    let (status, body) = logon_body(
        info,
        serde_json::json!({"username": user, "password": password, "concurrentSession": concurrent}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.as_str().unwrap().to_string()
}

/// One PVWA call: `{pvwa_url}/PasswordVault/{path}` with `Authorization: <token>`.
pub(crate) async fn pvwa(
    info: &SimInfo,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let c = client(info, false);
    let mut req = c
        .request(method, format!("{}/PasswordVault/{path}", info.pvwa_url))
        .header("Authorization", token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    answer(req.send().await.unwrap()).await
}
