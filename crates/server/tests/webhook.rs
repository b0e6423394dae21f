//! `POST /webhooks/confluence` through `router()` with the simulators: deliveries without or
//! with a wrong `X-Hub-Signature` are refused without showing the secret, events other than
//! `page_updated` are accepted and ignored, and `page_updated` voids (once) the approval of a
//! block whose script changed, then scans the page in the background.

mod support;

use std::sync::Arc;

use arkbridge_core::audit::Action;
use arkbridge_core::config::{ConfigSecret, WebhookSection};
use arkbridge_engine::Bridge;
use arkbridge_identity::DcWebhookVerifier;
use arkbridge_server::{AppState, Authenticator, ServerState, router};
use arkbridge_store::{AuditFilter, Store};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use support::{Env, call_state, start};
use tower::ServiceExt as _;

const SECRET: &str = "dc-webhook-SENTINEL-secret";
/// A GitHub token someone pastes into the block (the scanner's own test value).
const PASTED: &str = "ghp_R8x2LqP0vN5mZt7KcW3yHs9dFj1Ga4Ub6Ee0";

/// A state over a bridge whose config has `[server.webhook]` with the inline secret `SECRET`.
async fn webhook_state(env: &Env) -> AppState {
    let mut config = env.config.clone();
    config.allow_inline_secrets = true;
    config.server.webhook = Some(WebhookSection {
        secret: ConfigSecret::Inline(SECRET.into()),
    });
    let auth = Authenticator::from_config(&config).unwrap();
    let (bridge, _) = Bridge::connect(config).await.unwrap();
    ServerState::new(Arc::new(bridge), auth)
}

/// One delivery with the `X-Hub-Signature` value `signature`, if any.
async fn deliver(
    state: &AppState,
    body: &str,
    signature: Option<&str>,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/webhooks/confluence")
        .header("content-type", "application/json");
    if let Some(s) = signature {
        req = req.header("X-Hub-Signature", s);
    }
    let resp = router(state.clone())
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1024 * 1024)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn sign(secret: &str, body: &str) -> String {
    DcWebhookVerifier::new(&SecretString::from(secret))
        .unwrap()
        .sign(body.as_bytes())
}

async fn voided_events(state: &AppState, page_id: &str) -> Vec<Value> {
    let filter = AuditFilter {
        page_id: Some(page_id.to_string()),
        action: Some(Action::ApprovalVoided.as_str().to_string()),
        ..AuditFilter::default()
    };
    let records = state
        .bridge
        .store()
        .audit_query(&filter, 0, 100)
        .await
        .unwrap();
    records.into_iter().map(|r| r.event.details).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_or_wrongly_signed_deliveries_are_refused_without_showing_the_secret() {
    let env = start(false).await;
    let state = webhook_state(&env).await;
    let body = json!({"event": "page_updated", "page": {"id": 1}}).to_string();
    let wrong = sign("another-secret", &body);
    let mut tampered = sign(SECRET, &body);
    tampered.replace_range(7..8, if tampered[7..8] == *"0" { "1" } else { "0" });
    for signature in [
        None,
        Some("sha256=zz"),
        Some(wrong.as_str()),
        Some(tampered.as_str()),
    ] {
        let (status, answer, text) = deliver(&state, &body, signature).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{signature:?}: {text}");
        assert_eq!(answer["code"], "bad_signature", "{text}");
        assert!(!text.contains("SENTINEL"), "{text}");
    }
    assert!(voided_events(&state, "1").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_events_are_accepted_and_ignored_and_an_unconfigured_webhook_is_not_found() {
    let env = start(false).await;
    let state = webhook_state(&env).await;
    let body = json!({"event": "comment_created", "comment": {"id": 5}}).to_string();
    let (status, answer, text) = deliver(&state, &body, Some(&sign(SECRET, &body))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(answer["status"], "ignored");

    let bad = r#"{"event":"page_updated","page":{"id":"12x"}}"#;
    let (status, answer, text) = deliver(&state, bad, Some(&sign(SECRET, bad))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(answer["code"], "bad_payload");

    // The environment's own state has no `[server.webhook]`.
    let (status, answer, text) = deliver(&env.state, &body, Some(&sign(SECRET, &body))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert_eq!(answer["code"], "webhook_not_configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_updated_voids_the_approval_of_a_changed_block_once_and_scans_the_page() {
    let env = start(false).await;
    let state = webhook_state(&env).await;
    let restart = env.page("Restart payments API").await;
    let page_number: u64 = restart.parse().unwrap();
    let approve = json!({"page_id": restart, "block": "restart"}).to_string();
    let token = env.fit("carol@example.com").await;
    let carol = call_state(
        &state,
        "POST",
        "/api/v1/approvals",
        Some(&token),
        Some(&approve),
    )
    .await;
    assert_eq!(carol.status, StatusCode::CREATED, "{}", carol.text);

    let delivery =
        json!({"event": "page_updated", "page": {"id": page_number, "version": 2}}).to_string();
    let signature = sign(SECRET, &delivery);

    // While the block is unchanged, its approval stands.
    let (status, answer, text) = deliver(&state, &delivery, Some(&signature)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(answer["voided"], json!([]), "{text}");
    assert_eq!(answer["scan"], "queued");

    // Someone edits the block's script.
    let confluence = state.bridge.confluence();
    let page = confluence.get_page(&restart).await.unwrap();
    let script = arkbridge_core::storage::runbooks(&page.body_storage)
        .unwrap()
        .into_iter()
        .find(|rb| rb.name == "restart")
        .unwrap()
        .script;
    let edited = page
        .body_storage
        .replacen(&script, &format!("{script}\necho {PASTED}"), 1);
    assert_ne!(
        edited, page.body_storage,
        "the script is not verbatim in the body"
    );
    confluence
        .update_page(&page, &edited, "edit")
        .await
        .unwrap();

    let (status, answer, text) = deliver(&state, &delivery, Some(&signature)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    let voided = answer["voided"].as_array().unwrap().clone();
    assert_eq!(voided.len(), 1, "{text}");
    let events = voided_events(&state, &restart).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["approval_id"], voided[0]);
    assert_eq!(events[0]["approver"], "carol@example.com");
    assert_ne!(events[0]["approved_sha256"], events[0]["current_sha256"]);

    // A second delivery for the same edit records nothing again.
    let (status, answer, text) = deliver(&state, &delivery, Some(&signature)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");
    assert_eq!(answer["voided"], json!([]), "{text}");
    assert_eq!(voided_events(&state, &restart).await.len(), 1);

    // The background scan of the page finds the pasted token (by fingerprint, not value).
    state.webhook().unwrap().wait_for_scans().await;
    let findings = state.bridge.store().findings(None).await.unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f.finding.page_id.as_deref() == Some(restart.as_str())),
        "{findings:?}"
    );
    assert!(!format!("{findings:?}").contains(PASTED));
}
