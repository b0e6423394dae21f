//! CEF (ArcSight Common Event Format) with CyberArk Vault's conventions, so SIEM content built
//! for the Vault's feed reads arkbridge's too.
//!
//! CyberArk's `Arcsight.sample.xsl` writes, for example:
//! `CEF:0|Cyber-Ark|Vault|10.9.0000|22|CPM Verify Password|5|act=... suser=... fname=... dvc=
//! shost=... dhost= duser=... externalId= app= reason= cs1Label="Affected User Name" cs1=
//! cs2Label="Safe Name" cs2=... cs3Label="Device Type" cs3=... cs4Label="Database" cs4=
//! cs5Label="Other info" cs5= cn1Label="Request Id" cn1= cn2Label="Ticket Id" cn2= msg=`.
//!
//! arkbridge writes the same header shape (vendor `arkbridge`, product `arkbridge`, its version,
//! a numeric event class id per action, a name, a 0–10 severity) and the same keys and labels,
//! every one present as the Vault writes them, plus `outcome`, `rt` (event time, epoch ms) and
//! `cs6Label=Run Id`. Unlike the Vault's output, values are escaped strictly per the CEF spec
//! (`\` and `|` in the header; `\`, `=` and line breaks in extensions) and never quoted, so
//! standard parsers need no special case.

use arkbridge_core::audit::{Action, AuditRecord, Outcome};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::checkpoint::SignedCheckpoint;

pub const VENDOR: &str = "arkbridge";
pub const PRODUCT: &str = "arkbridge";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The event class id of a checkpoint message.
pub const CHECKPOINT_CLASS_ID: u32 = 900;

/// The stable numeric event class id and the display name of each action.
pub fn class(action: Action) -> (u32, &'static str) {
    match action {
        Action::RunRequested => (100, "Run Requested"),
        Action::PolicyDecided => (110, "Policy Decided"),
        Action::RunFinished => (120, "Run Finished"),
        Action::CredentialRequested => (200, "Credential Requested"),
        Action::CredentialIssued => (201, "Credential Issued"),
        Action::CredentialFallback => (202, "Credential Fallback"),
        Action::RotationRequested => (300, "Rotation Requested"),
        Action::RotationDone => (301, "Rotation Done"),
        Action::RotationFailed => (302, "Rotation Failed"),
        Action::CommentPosted => (400, "Comment Posted"),
        Action::PageEdited => (401, "Page Edited"),
        Action::ApprovalGranted => (500, "Approval Granted"),
        Action::ApprovalVoided => (501, "Approval Voided"),
        Action::ScanFinding => (600, "Scan Finding"),
        Action::VaultMoved => (601, "Vault Moved"),
        Action::PolicyApplied => (700, "Policy Applied"),
        Action::ConfigLoaded => (800, "Config Loaded"),
        Action::ApiCall => (801, "API Call"),
        Action::Login => (802, "Login"),
        Action::ReportDaily => (810, "Daily Report"),
    }
}

/// CEF severity: 5 as the Vault uses for routine events, 7 for refusals and failures, 8 for a
/// secret found on a page.
pub fn severity(action: Action, outcome: Outcome) -> u8 {
    match (action, outcome) {
        (Action::ScanFinding, _) => 8,
        (_, Outcome::Denied | Outcome::Failure) | (Action::RotationFailed, _) => 7,
        _ => 5,
    }
}

/// Escapes a header field: `\` and `|`; line breaks become spaces (they are not allowed).
pub fn header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value: `\`, `=`, and line breaks as `\n` / `\r`.
pub fn value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn push(ext: &mut String, key: &str, v: &str) {
    if !ext.is_empty() {
        ext.push(' ');
    }
    ext.push_str(key);
    ext.push('=');
    ext.push_str(&value(v));
}

/// The CEF line of a record.
pub fn record(r: &AuditRecord) -> String {
    let e = &r.event;
    let (id, name) = class(e.action);
    let t = &e.target;
    let page = match (&t.page_id, t.page_version, &t.block) {
        (None, _, _) => String::new(),
        (Some(p), v, b) => {
            let mut s = format!("page {p}");
            if let Some(v) = v {
                s.push_str(&format!(" v{v}"));
            }
            if let Some(b) = b {
                s.push_str(&format!(" block {b}"));
            }
            s
        }
    };
    let mut ext = String::with_capacity(512);
    push(&mut ext, "act", e.action.as_str());
    push(&mut ext, "suser", &e.actor.subject);
    push(&mut ext, "fname", t.object.as_deref().unwrap_or(""));
    push(&mut ext, "dvc", "");
    push(&mut ext, "shost", e.source.as_deref().unwrap_or(""));
    push(&mut ext, "dhost", "");
    push(&mut ext, "duser", t.object.as_deref().unwrap_or(""));
    push(&mut ext, "externalId", &r.seq.to_string());
    push(&mut ext, "app", e.actor.auth_method.as_str());
    push(&mut ext, "reason", e.reason.as_deref().unwrap_or(""));
    push(&mut ext, "cs1Label", "Affected User Name");
    // The Vault fills this for user-management events only; arkbridge has none.
    push(&mut ext, "cs1", "");
    push(&mut ext, "cs2Label", "Safe Name");
    push(&mut ext, "cs2", t.safe.as_deref().unwrap_or(""));
    push(&mut ext, "cs3Label", "Device Type");
    push(&mut ext, "cs3", "");
    push(&mut ext, "cs4Label", "Database");
    push(&mut ext, "cs4", "");
    push(&mut ext, "cs5Label", "Other info");
    push(&mut ext, "cs5", &page);
    push(&mut ext, "cs6Label", "Run Id");
    push(&mut ext, "cs6", e.run_id.as_deref().unwrap_or(""));
    push(&mut ext, "cn1Label", "Request Id");
    push(&mut ext, "cn1", "");
    push(&mut ext, "cn2Label", "Ticket Id");
    push(&mut ext, "cn2", "");
    push(&mut ext, "outcome", e.outcome.as_str());
    push(&mut ext, "rt", &(e.time_us / 1000).to_string());
    let msg = if e.details.as_object().is_some_and(|m| !m.is_empty()) {
        e.details.to_string()
    } else {
        String::new()
    };
    push(&mut ext, "msg", &msg);
    format!(
        "CEF:0|{}|{}|{}|{id}|{}|{}|{ext}",
        header(VENDOR),
        header(PRODUCT),
        header(VERSION),
        header(name),
        severity(e.action, e.outcome)
    )
}

/// The CEF line of a checkpoint: its size and root, and the whole signed note in `msg`, so the
/// SIEM keeps a copy outside arkbridge's store.
pub fn checkpoint(id: i64, cp: &SignedCheckpoint) -> String {
    let c = &cp.checkpoint;
    let mut ext = String::new();
    push(&mut ext, "act", "audit.checkpoint");
    push(&mut ext, "suser", arkbridge_core::audit::SYSTEM_ACTOR);
    push(&mut ext, "externalId", &format!("checkpoint-{id}"));
    push(&mut ext, "cs1Label", "Origin");
    push(&mut ext, "cs1", &c.origin);
    push(&mut ext, "cs2Label", "Root Hash");
    push(&mut ext, "cs2", &B64.encode(c.root));
    push(&mut ext, "cn1Label", "Tree Size");
    push(&mut ext, "cn1", &c.tree_size.to_string());
    push(&mut ext, "rt", &(c.time_us / 1000).to_string());
    push(&mut ext, "msg", &cp.note);
    format!(
        "CEF:0|{}|{}|{}|{CHECKPOINT_CLASS_ID}|Audit Checkpoint|3|{ext}",
        header(VENDOR),
        header(PRODUCT),
        header(VERSION)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::audit::{Actor, AuditEvent, AuthMethod, Target, encode};

    #[test]
    fn a_record_becomes_a_vault_style_cef_line() {
        let mut actor = Actor::user("local-trusted", "alice@example.com", AuthMethod::CliLocal);
        actor.name = Some("Alice".into());
        let r = encode(
            7,
            AuditEvent::new(Action::CredentialIssued)
                .at(1_764_504_000_123_456)
                .by(actor)
                .target(Target::account("Prod-DB", "payments-db"))
                .reason("run a=b | c\\d\nnext")
                .run("r-1"),
        );
        let line = record(&r);
        assert_eq!(
            line,
            format!(
                "CEF:0|arkbridge|arkbridge|{VERSION}|201|Credential Issued|5|act=credential.issued \
                 suser=alice@example.com fname=payments-db dvc= shost= dhost= duser=payments-db \
                 externalId=7 app=cli-local reason=run a\\=b | c\\\\d\\nnext \
                 cs1Label=Affected User Name cs1= cs2Label=Safe Name cs2=Prod-DB \
                 cs3Label=Device Type cs3= cs4Label=Database cs4= cs5Label=Other info cs5= \
                 cs6Label=Run Id cs6=r-1 cn1Label=Request Id cn1= cn2Label=Ticket Id cn2= \
                 outcome=success rt=1764504000123 msg="
            )
        );
    }

    #[test]
    fn header_fields_escape_pipes_and_backslashes() {
        assert_eq!(header("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(value("k=v\\x\r\n"), "k\\=v\\\\x\\r\\n");
    }

    #[test]
    fn every_action_has_its_own_class_id() {
        let mut ids: Vec<u32> = Action::ALL.iter().map(|a| class(*a).0).collect();
        ids.push(CHECKPOINT_CLASS_ID);
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }
}
