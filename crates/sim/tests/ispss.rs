//! ISPSS emulation: `POST /oauth2/platformtoken` (client credentials) and the Bearer-only mode.

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;

async fn token_request(
    c: &reqwest::Client,
    info: &arkbridge_sim::SimInfo,
    form: &str,
) -> (u16, Value) {
    let r = c
        .post(format!("{}/oauth2/platformtoken", info.pvwa_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap())
}

fn form(user: &str, pw: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", user)
        .append_pair("client_secret", pw)
        .finish()
}

#[tokio::test]
async fn platform_token_is_a_bearer_session() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, false);
    let (s, tok) = token_request(&c, info, &form(&info.pvwa_user, &info.pvwa_password)).await;
    assert_eq!(s, 200);
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3600);
    let access = tok["access_token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {access}");
    let (s, list) = pvwa(&c, info, Method::GET, "Accounts", &bearer, None).await;
    assert_eq!((s, list["count"].as_u64()), (200, Some(2)));

    // A second token does not end the first (platform tokens are concurrent).
    let (_, again) = token_request(&c, info, &form(&info.pvwa_user, &info.pvwa_password)).await;
    assert_ne!(again["access_token"], tok["access_token"]);
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &bearer, None)
            .await
            .0,
        200
    );

    // Identity is not the Vault: tokens are still issued while the Vault is down, but the PVWA
    // API answers 500.
    sim.handle.set_vault_down(true);
    let (s, _) = token_request(&c, info, &form(&info.pvwa_user, &info.pvwa_password)).await;
    assert_eq!(s, 200);
    let (s, b) = pvwa(&c, info, Method::GET, "Accounts", &bearer, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (500, Some("CAWS00001E")));
    sim.handle.set_vault_down(false);

    let (s, b) = token_request(&c, info, &form(&info.pvwa_user, "wrong")).await;
    assert_eq!((s, b["error"].as_str()), (401, Some("invalid_client")));
    let (s, b) = token_request(&c, info, "grant_type=password&client_id=a&client_secret=b").await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (s, b) = token_request(&c, info, "grant_type=client_credentials").await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_request")));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn bearer_only_mode_refuses_raw_tokens() {
    let sim = start().await;
    let info = sim.info();
    let c = client(info, false);
    let t = logon(&c, info, &info.pvwa_user, &info.pvwa_password, true).await;
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t, None).await.0,
        200
    );
    sim.handle.set_bearer_only(true);
    let (s, b) = pvwa(&c, info, Method::GET, "Accounts", &t, None).await;
    assert_eq!((s, b["ErrorCode"].as_str()), (401, Some("PASWS006E")));
    let bearer = format!("Bearer {t}");
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &bearer, None)
            .await
            .0,
        200
    );
    sim.handle.set_bearer_only(false);
    assert_eq!(
        pvwa(&c, info, Method::GET, "Accounts", &t, None).await.0,
        200
    );
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn platform_discovery_points_at_the_simulator_for_the_seed_subdomain() {
    let seed = arkbridge_sim::DEMO_SEED.replacen(
        "pvwaUsers:\n",
        "ispssSubdomain: acme\n\npvwaUsers:\n",
        1,
    );
    let sim = start_with(Some(&seed), std::time::Duration::from_millis(20)).await;
    let info = sim.info();
    let c = client(info, false);
    let url = |sub: &str| format!("{}/api/v2/services/subdomain/{sub}", info.pvwa_url);
    let r = c.get(url("ACME")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    // psPAS reads pcloud.api and identity_user_portal.api; others identity_administration.api.
    for service in ["pcloud", "identity_user_portal", "identity_administration"] {
        assert_eq!(d[service]["api"], info.pvwa_url.as_str(), "{service}");
    }
    // The identity URL it names issues platform tokens.
    let identity = d["identity_user_portal"]["api"].as_str().unwrap();
    let r = c
        .post(format!("{identity}/OAuth2/PlatformToken"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&info.pvwa_user, &info.pvwa_password))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(url("someone-else")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    sim.handle.shutdown().await;
}
