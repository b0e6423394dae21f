//! "Vault it" (`arkbridge vault`): move a secret found on a page into CyberArk and put its
//! `cyberark://` reference on the page in its place.
//!
//! For each finding: read the page as it is now and find the value again by its fingerprint
//! (a page edited since the scan may have moved or removed it), plan the account (safe, platform,
//! object name) and the minimal page edit (only the value's characters change). With `apply`:
//! create the account through the PVWA (`POST /Accounts`), check that the CCP hands back the same
//! value, then edit the page (re-applied on a version conflict, never overwriting a concurrent
//! edit), mark the finding vaulted, and, because the page's history still holds the old value,
//! ask the CPM to change it when the account is CPM-managed (otherwise the result says "rotate at
//! source"). Every step is audited; the value itself is held only in memory and never printed.

use arkbridge_confluence::EditError as PageEditError;
use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_cyberark::{CcpQuery, NewAccount};
use arkbridge_scanner::{Finding, Scanner, TextView, mask, replace_secret};
use arkbridge_store::{FindingRecord, FindingState, Store};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::{Bridge, EngineError};

/// What to vault.
#[derive(Debug, Clone)]
pub struct VaultRequest {
    pub findings: Vec<i64>,
    pub safe: String,
    /// Default: `[scanner] vault_platform`.
    pub platform: Option<String>,
    pub apply: bool,
}

/// What happened to one finding.
#[derive(Debug, Clone, Serialize)]
pub struct VaultItem {
    pub finding: i64,
    pub page_id: Option<String>,
    pub title: Option<String>,
    pub detector: String,
    pub preview: String,
    /// The reference that replaces the value.
    pub reference: Option<String>,
    pub platform: String,
    /// The page's lines that change, with the value masked.
    pub diff: Vec<String>,
    /// `planned`, `vaulted`, `skipped` or `failed`.
    pub outcome: &'static str,
    /// Why it was skipped or failed, or what to do next.
    pub note: Option<String>,
    pub account_id: Option<String>,
    /// A CPM change of the new account was requested (the old value is in the page history).
    pub cpm_change_requested: bool,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct VaultReport {
    pub applied: bool,
    pub items: Vec<VaultItem>,
}

impl VaultReport {
    pub fn failed(&self) -> usize {
        self.items.iter().filter(|i| i.outcome == "failed").count()
    }
}

/// A finding located again on the current page.
struct Located {
    finding: Finding,
    value: SecretString,
    new_body: String,
}

impl<S: Store> Bridge<S> {
    /// Plans (and with `apply`, carries out) the vaulting of each finding, one after the other.
    pub async fn vault(&self, actor: &str, req: &VaultRequest) -> Result<VaultReport, EngineError> {
        let platform = req
            .platform
            .clone()
            .or_else(|| self.config.scanner.vault_platform.clone())
            .ok_or_else(|| {
                EngineError::Setup(
                    "name the platform of the new accounts: --platform ID, or [scanner] \
                     vault_platform"
                        .into(),
                )
            })?;
        let scanner = Scanner::new(self.fingerprint_key().await?);
        let mut items = Vec::new();
        for &id in &req.findings {
            let record = self.store.finding(id).await?.ok_or_else(|| {
                EngineError::Setup(format!("there is no finding #{id} (see `arkbridge scan`)"))
            })?;
            let mut item = VaultItem {
                finding: id,
                page_id: record.finding.page_id.clone(),
                title: record.finding.title.clone(),
                detector: record.finding.detector.clone(),
                preview: record.finding.preview.clone(),
                reference: None,
                platform: platform.clone(),
                diff: Vec::new(),
                outcome: "planned",
                note: None,
                account_id: None,
                cpm_change_requested: false,
            };
            if let Err(reason) = self
                .vault_one(actor, req, &scanner, &record, &mut item)
                .await
            {
                item.outcome = if record.state == FindingState::Vaulted {
                    "skipped"
                } else {
                    "failed"
                };
                item.note = Some(reason);
            }
            items.push(item);
        }
        Ok(VaultReport {
            applied: req.apply,
            items,
        })
    }

    async fn vault_one(
        &self,
        actor: &str,
        req: &VaultRequest,
        scanner: &Scanner,
        record: &FindingRecord,
        item: &mut VaultItem,
    ) -> Result<(), String> {
        if record.state == FindingState::Vaulted {
            return Err(format!(
                "already vaulted as {}",
                record.vaulted_ref.as_deref().unwrap_or("a reference")
            ));
        }
        let page_id = record
            .finding
            .page_id
            .clone()
            .ok_or("only findings on Confluence pages can be vaulted")?;
        if record.finding.element_path.starts_with("comment[") {
            return Err("the value is in a footer comment: vault edits page bodies only".into());
        }
        let object = object_name(record);
        let reference = format!("cyberark://{}/{object}", req.safe);
        item.reference = Some(reference.clone());
        let page = self
            .confluence
            .get_page(&page_id)
            .await
            .map_err(|e| e.to_string())?;
        let located = locate(scanner, record, &page.body_storage, &reference)?;
        item.diff = diff(&page.body_storage, &located, &reference);
        if !req.apply {
            return Ok(());
        }
        let target = Target::account(&req.safe, &object);
        // 1. The account, holding the value.
        let new = NewAccount {
            safe_name: req.safe.clone(),
            platform_id: item.platform.clone(),
            name: Some(object.clone()),
            address: Some(self.confluence.site_url().to_string()),
            user_name: Some(format!("page-{page_id}-{}", record.finding.detector)),
            secret_type: Some("password".into()),
            secret: &located.value,
            platform_account_properties: Default::default(),
            automatic_management_enabled: None,
            manual_management_reason: None,
        };
        let created = self.with_pvwa(async |p| p.add_account(&new).await).await;
        let account = match created {
            Ok(a) => a,
            Err(e) => {
                self.vault_audit(
                    actor,
                    &target,
                    record,
                    Outcome::Failure,
                    &format!("account not created: {e}"),
                )
                .await;
                return Err(format!("the PVWA did not create {reference}: {e}"));
            }
        };
        item.account_id = Some(account.id.clone());
        // 2. The CCP hands back the same value, or the page is not touched.
        let query = CcpQuery::for_account(&req.safe, &object)
            .reason(format!("arkbridge vault: checking finding #{}", record.id));
        let fetched = self.ccp.get(&query).await.map_err(|e| {
            format!("the account {reference} was created but the CCP cannot retrieve it ({e}); the page was not changed")
        })?;
        if fetched.content().expose_secret() != located.value.expose_secret() {
            return Err(format!(
                "the CCP's value of {reference} differs from the page's; the page was not changed"
            ));
        }
        // 3. The page: the value replaced by its reference, re-located on every attempt.
        let message = format!("arkbridge vault: secret moved to {reference}");
        let edited = self
            .confluence
            .edit_page(&page_id, &message, |body| {
                locate(scanner, record, body, &reference).map(|l| l.new_body)
            })
            .await;
        let edited = match edited {
            Ok(e) => e,
            Err(e) => {
                let reason = match e {
                    PageEditError::Edit { reason, .. } => reason,
                    PageEditError::Confluence(e) => e.to_string(),
                };
                self.vault_audit(
                    actor,
                    &target,
                    record,
                    Outcome::Failure,
                    &format!("page not edited: {reason}"),
                )
                .await;
                return Err(format!(
                    "{reference} holds the value, but the page was not edited: {reason}"
                ));
            }
        };
        self.store
            .triage_finding(
                record.id,
                FindingState::Vaulted,
                actor,
                None,
                Some(&reference),
            )
            .await
            .map_err(|e| e.to_string())?;
        // 4. The old value is still in the page's history: change it where CyberArk can.
        let managed = account.secret_management.automatic_management_enabled == Some(true);
        if managed {
            match self.with_pvwa(async |p| p.change(&account.id).await).await {
                Ok(()) => item.cpm_change_requested = true,
                Err(e) => {
                    item.note = Some(format!(
                        "the CPM change was refused ({e}): rotate at source"
                    ))
                }
            }
        } else {
            item.note = Some(
                "the account is not CPM-managed: rotate at source (the old value stays in the page history)"
                    .into(),
            );
        }
        item.outcome = "vaulted";
        let details = serde_json::json!({
            "finding": record.id,
            "page_id": page_id,
            "page_version": edited.page.version,
            "account_id": account.id,
            "reference": reference,
            "detector": record.finding.detector,
            "preview": record.finding.preview,
            "cpm_change_requested": item.cpm_change_requested,
        });
        let event = AuditEvent::new(Action::VaultMoved)
            .target(target.with_account_id(Some(&account.id)))
            .reason(format!("finding #{} moved off page {page_id}", record.id))
            .details(details);
        self.audit(actor, event).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Audits a failed step; a failure to audit it is logged (the caller reports the failure).
    async fn vault_audit(
        &self,
        actor: &str,
        target: &Target,
        record: &FindingRecord,
        outcome: Outcome,
        reason: &str,
    ) {
        let event = AuditEvent::new(Action::VaultMoved)
            .target(target.clone())
            .outcome(outcome)
            .reason(reason.to_string())
            .details(
                serde_json::json!({ "finding": record.id, "preview": record.finding.preview }),
            );
        if let Err(e) = self.audit(actor, event).await {
            tracing::error!(error = %e, "cannot audit a vault step");
        }
    }
}

/// The finding on `body` (same fingerprint, preferring the same element path) and the body
/// with its value replaced by `reference`.
fn locate(
    scanner: &Scanner,
    record: &FindingRecord,
    body: &str,
    reference: &str,
) -> Result<Located, String> {
    let view = TextView::lenient(body);
    let mut candidates: Vec<Finding> = scanner
        .findings(&view)
        .into_iter()
        .filter(|f| f.fingerprint == record.finding.fingerprint)
        .collect();
    candidates.sort_by_key(|f| f.location.element_path != record.finding.element_path);
    let finding = candidates.into_iter().next().ok_or_else(|| {
        "the value is no longer on the page as it is now (edited since the scan, or only in \
         its history): scan again"
            .to_string()
    })?;
    let text = view.text();
    let value: String = text
        .chars()
        .skip(finding.location.view_char_offset)
        .take(finding.location.view_char_length)
        .collect();
    let value = SecretString::from(value);
    let new_body = replace_secret(
        body,
        &finding.location,
        &finding.fingerprint,
        scanner.key(),
        reference,
    )
    .map_err(|e| format!("the value cannot be replaced on its own: {e}"))?;
    Ok(Located {
        finding,
        value,
        new_body,
    })
}

/// The part of the page that changes, before and after, with the value masked: a window of
/// the storage around the value.
fn diff(body: &str, located: &Located, reference: &str) -> Vec<String> {
    const CONTEXT: usize = 40;
    let loc = &located.finding.location;
    let before_start = body[..loc.byte_offset]
        .char_indices()
        .rev()
        .nth(CONTEXT - 1)
        .map_or(0, |(i, _)| i);
    let end = loc.byte_offset + loc.byte_length;
    let after_end = body[end..]
        .char_indices()
        .nth(CONTEXT)
        .map_or(body.len(), |(i, _)| end + i);
    // One line each: line breaks in the window show as `⏎`.
    let head = body[before_start..loc.byte_offset].replace('\n', "⏎");
    let tail = body[end..after_end].replace('\n', "⏎");
    let shown = mask(located.value.expose_secret());
    vec![
        format!("- …{head}{shown}{tail}…"),
        format!("+ …{head}{reference}{tail}…"),
    ]
}

/// The new account's object name: the page title's words, the detector and the fingerprint's
/// first digits (unique per value), in the characters CyberArk allows in object names.
fn object_name(record: &FindingRecord) -> String {
    let title: String = record
        .finding
        .title
        .as_deref()
        .unwrap_or("page")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let title: Vec<&str> = title.split('-').filter(|w| !w.is_empty()).collect();
    let mut title = title.join("-");
    title.truncate(40);
    let fp = record
        .finding
        .fingerprint
        .rsplit(':')
        .next()
        .unwrap_or_default();
    format!(
        "{}-{}-{}",
        title.trim_end_matches('-'),
        record.finding.detector,
        &fp[..fp.len().min(8)]
    )
}
