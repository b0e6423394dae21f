//! `POST /webhooks/confluence`: Confluence Data Center webhook deliveries.
//!
//! Each delivery is verified first, on the raw body, with the `X-Hub-Signature` HMAC of
//! `[server.webhook] secret` (`arkbridge_identity::DcWebhookVerifier`): a missing or wrong
//! signature is a 401 whose message never holds the secret. Without `[server.webhook]` the
//! route answers 404.
//!
//! On `page_updated`, every approval of a block of that page whose approved script no longer
//! matches the block's current script is recorded as `approval.voided` (once per approval: one
//! voided earlier is not recorded again), and an incremental scan of the page runs in the
//! background. Every other event is answered 202 and ignored.
//!
//! The Data Center payload is not documented authoritatively; the event name is read from the
//! body's `event` field (else the `X-Event-Key` header) and the page from `page.id`, a number
//! or a string of digits, as the Cloud webhooks send it.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use arkbridge_core::audit::{Action, AuditEvent, Target};
use arkbridge_core::storage::runbooks;
use arkbridge_engine::{BRIDGE_ACTOR, Bridge, ScanRequest, script_sha256};
use arkbridge_identity::DcWebhookVerifier;
use arkbridge_store::{AuditFilter, Store};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::{ApiError, AppState};

/// The config field of the webhook's secret, as the bootstrap resolves it.
pub const WEBHOOK_SECRET_FIELD: &str = "server.webhook.secret";

/// How many audit records one query reads while looking for earlier voids and approvals.
const AUDIT_PAGE: i64 = 500;

/// The webhook's verifier and the page scans it started.
#[derive(Debug)]
pub struct Webhook {
    verifier: DcWebhookVerifier,
    scans: Mutex<Vec<JoinHandle<()>>>,
}

impl Webhook {
    pub fn new(verifier: DcWebhookVerifier) -> Webhook {
        Webhook {
            verifier,
            scans: Mutex::new(Vec::new()),
        }
    }

    /// The webhook of the bridge's `[server.webhook]`, with the secret the bootstrap resolved;
    /// `None` without the section, or (logged) when its secret is unusable, in which case
    /// deliveries are answered 503.
    pub fn for_bridge(bridge: &Bridge) -> Option<Webhook> {
        bridge.config().server.webhook.as_ref()?;
        let Some(secret) = bridge.bridge_secret(WEBHOOK_SECRET_FIELD) else {
            tracing::error!(
                "{WEBHOOK_SECRET_FIELD} was not resolved at start: webhooks are refused"
            );
            return None;
        };
        match DcWebhookVerifier::new(secret) {
            Ok(verifier) => Some(Webhook::new(verifier)),
            Err(e) => {
                tracing::error!(error = %e, "{WEBHOOK_SECRET_FIELD} is unusable: webhooks are refused");
                None
            }
        }
    }

    /// Waits for every page scan started so far (for shutdown and tests).
    pub async fn wait_for_scans(&self) {
        let scans: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.scans.lock().unwrap_or_else(|p| p.into_inner()));
        for scan in scans {
            if let Err(e) = scan.await {
                tracing::error!(error = %e, "a webhook page scan did not finish");
            }
        }
    }

    fn keep(&self, scan: JoinHandle<()>) {
        let mut scans = self.scans.lock().unwrap_or_else(|p| p.into_inner());
        scans.retain(|s| !s.is_finished());
        scans.push(scan);
    }
}

/// Handles one delivery (see the module's documentation).
pub(crate) async fn confluence_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(hook) = state.webhook.as_ref() else {
        if state.bridge.config().server.webhook.is_some() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "webhook_unavailable",
                format!("the webhook secret ({WEBHOOK_SECRET_FIELD}) is not available"),
            ));
        }
        return Err(ApiError::not_found(
            "webhook_not_configured",
            "no [server.webhook] is configured",
        ));
    };
    let signature = headers
        .get(arkbridge_identity::DC_SIGNATURE_HEADER)
        // A header that is not text cannot be a hex signature: verified as an empty value, it
        // is refused as malformed.
        .map(|v| v.to_str().unwrap_or(""));
    if let Err(e) = hook.verifier.verify(signature, &body) {
        tracing::warn!(error = %e, "a webhook delivery was refused");
        return Err(ApiError::unauthorized(
            "bad_signature",
            format!("the webhook delivery is not signed with the configured secret: {e}"),
        ));
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("bad_payload", format!("the body is not JSON: {e}")))?;
    let event = payload["event"]
        .as_str()
        .or_else(|| headers.get("x-event-key").and_then(|v| v.to_str().ok()))
        .unwrap_or("");
    if event != "page_updated" {
        return Ok(accepted(json!({"status": "ignored"})));
    }
    let page_id = page_id(&payload).ok_or_else(|| {
        ApiError::bad_request(
            "bad_payload",
            "a page_updated delivery needs page.id, a page id",
        )
    })?;
    let voided = void_changed_approvals(&state, &page_id).await?;
    let bridge = state.bridge.clone();
    let scanned = page_id.clone();
    hook.keep(tokio::spawn(async move {
        let request = ScanRequest {
            pages: vec![scanned.clone()],
            ..ScanRequest::default()
        };
        match bridge.scan(BRIDGE_ACTOR, &request, |_| {}).await {
            Ok(report) => tracing::info!(
                page_id = %scanned,
                findings = report.hits.len(),
                new = report.new_hits().count(),
                "webhook page scan done"
            ),
            Err(e) => tracing::error!(page_id = %scanned, error = %e, "webhook page scan failed"),
        }
    }));
    Ok(accepted(json!({
        "status": "accepted",
        "page_id": page_id,
        "voided": voided,
        "scan": "queued",
    })))
}

fn accepted(body: Value) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// The page id of a page event: `page.id` as a number or a string of digits.
fn page_id(payload: &Value) -> Option<String> {
    let id = &payload["page"]["id"];
    let id = match id {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    (!id.is_empty() && id.len() <= 20 && id.chars().all(|c| c.is_ascii_digit())).then_some(id)
}

/// Records `approval.voided` for each approval of page `page_id` whose script differs from its
/// block's current script (or whose block is gone) and that was not voided before; returns
/// the ids of the approvals voided now.
async fn void_changed_approvals(state: &AppState, page_id: &str) -> Result<Vec<i64>, ApiError> {
    let bridge = &state.bridge;
    let store = bridge.store();
    let page = bridge
        .confluence()
        .get_page(page_id)
        .await
        .map_err(|e| ApiError::from_engine(&e.into()))?;
    let current: Vec<(String, String)> = runbooks(&page.body_storage)
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_runbook",
                format!("the page's runbooks cannot be read: {e}"),
            )
        })?
        .into_iter()
        .map(|rb| (rb.name, script_sha256(&rb.script)))
        .collect();
    // Blocks approved before, from the audit log, so that approvals of a block since removed
    // or renamed are voided too.
    let mut blocks: BTreeSet<String> = current.iter().map(|(n, _)| n.clone()).collect();
    for record in audit_of_page(state, page_id, Action::ApprovalGranted).await? {
        blocks.extend(record.target.block);
    }
    let already: HashSet<i64> = audit_of_page(state, page_id, Action::ApprovalVoided)
        .await?
        .iter()
        .filter_map(|e| e.details["approval_id"].as_i64())
        .collect();
    let mut voided = Vec::new();
    for block in blocks {
        let now = current.iter().find(|(n, _)| *n == block).map(|(_, h)| h);
        let approvals = store.approvals(page_id, &block).await.map_err(internal)?;
        for approval in approvals {
            if now == Some(&approval.script_sha256) || already.contains(&approval.id) {
                continue;
            }
            let reason = if now.is_some() {
                "the block's script changed since it was approved"
            } else {
                "the block is no longer on the page"
            };
            let event = AuditEvent::new(Action::ApprovalVoided)
                .at(jiff::Timestamp::now().as_microsecond())
                .target(Target::block(page_id, page.version, &block))
                .reason(reason)
                .details(json!({
                    "approval_id": approval.id,
                    "approved_sha256": approval.script_sha256,
                    "current_sha256": now,
                    "approver": approval.approver,
                    "approval_audit_seq": approval.audit_seq,
                }));
            store.append_audit(event).await.map_err(internal)?;
            voided.push(approval.id);
        }
    }
    if !voided.is_empty() {
        tracing::info!(page_id, voided = ?voided, "approvals of changed blocks voided");
    }
    Ok(voided)
}

/// The audit events of `action` on page `page_id`, oldest first.
async fn audit_of_page(
    state: &AppState,
    page_id: &str,
    action: Action,
) -> Result<Vec<AuditEvent>, ApiError> {
    let filter = AuditFilter {
        page_id: Some(page_id.to_string()),
        action: Some(action.as_str().to_string()),
        ..AuditFilter::default()
    };
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let batch = state
            .bridge
            .store()
            .audit_query(&filter, after, AUDIT_PAGE)
            .await
            .map_err(internal)?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        let full = batch.len() as i64 == AUDIT_PAGE;
        out.extend(batch.into_iter().map(|r| r.event));
        if !full {
            break;
        }
    }
    Ok(out)
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("the store failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ids_are_read_as_numbers_or_digit_strings_only() {
        assert_eq!(
            page_id(&json!({"page": {"id": 123}})).as_deref(),
            Some("123")
        );
        assert_eq!(
            page_id(&json!({"page": {"id": "456"}})).as_deref(),
            Some("456")
        );
        for bad in [
            json!({}),
            json!({"page": {"id": -1}}),
            json!({"page": {"id": "12a"}}),
            json!({"page": {"id": ""}}),
            json!({"page": {"id": 1.5}}),
        ] {
            assert_eq!(page_id(&bad), None, "{bad}");
        }
    }
}
