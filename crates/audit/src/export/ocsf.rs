//! OCSF 1.x events (Open Cybersecurity Schema Framework), as AWS Security Lake and others read.
//!
//! Classes (`type_uid = class_uid × 100 + activity_id`):
//! * credential reads, and every other API-level action: *API Activity* (6003, category 6),
//!   activity Read (2) for credentials, Create (1) for comments and vaulting, Update (3) for
//!   page edits and applied policy, Other (99) otherwise;
//! * rotations: *Account Change* (3001, category 3), activity Password Change (3);
//! * logins: *Authentication* (3002, category 3), activity Logon (1);
//! * secrets found on pages: *Detection Finding* (2004, category 2), activity Create (1).
//!
//! arkbridge's own fields that OCSF has no place for (the target's safe/page/block, the details,
//! the record's leaf hash) are kept under `unmapped.arkbridge`.

use arkbridge_core::audit::{Action, AuditRecord, Outcome};
use serde_json::{Value, json};

pub const OCSF_VERSION: &str = "1.3.0";

/// `(category_uid, class_uid, class_name, activity_id, activity_name)`.
fn classify(action: Action) -> (u32, u32, &'static str, u32, &'static str) {
    const API: (u32, u32, &str) = (6, 6003, "API Activity");
    let (cat, class, name) = match action {
        Action::RotationRequested | Action::RotationDone | Action::RotationFailed => {
            (3, 3001, "Account Change")
        }
        Action::Login => (3, 3002, "Authentication"),
        Action::ScanFinding => (2, 2004, "Detection Finding"),
        Action::ReportDaily => (2, 2003, "Compliance Finding"),
        _ => API,
    };
    let (activity, activity_name) = match action {
        Action::CredentialRequested | Action::CredentialIssued | Action::CredentialFallback => {
            (2, "Read")
        }
        Action::CommentPosted | Action::VaultMoved | Action::ScanFinding | Action::ReportDaily => {
            (1, "Create")
        }
        Action::PageEdited | Action::PolicyApplied => (3, "Update"),
        Action::RotationRequested | Action::RotationDone | Action::RotationFailed => {
            (3, "Password Change")
        }
        Action::Login => (1, "Logon"),
        _ => (99, "Other"),
    };
    (cat, class, name, activity, activity_name)
}

/// The OCSF event of a record.
pub fn record(r: &AuditRecord) -> Value {
    let e = &r.event;
    let (category_uid, class_uid, class_name, activity_id, activity_name) = classify(e.action);
    let (status_id, status) = match e.outcome {
        Outcome::Success => (1, "Success"),
        Outcome::Failure | Outcome::Denied => (2, "Failure"),
        Outcome::Pending => (99, "Other"),
    };
    let severity_id = match (e.action, e.outcome) {
        (Action::ScanFinding, _) => 4,
        (_, Outcome::Denied | Outcome::Failure) => 3,
        _ => 1,
    };
    let user = json!({
        "uid": e.actor.subject,
        "name": e.actor.name.as_deref().unwrap_or(&e.actor.subject),
        "type": if e.actor.auth_method == arkbridge_core::audit::AuthMethod::System { "System" } else { "User" },
    });
    let mut resources = Vec::new();
    let t = &e.target;
    if let (Some(safe), Some(object)) = (&t.safe, &t.object) {
        resources.push(json!({
            "type": "CyberArk Account",
            "name": format!("{safe}/{object}"),
            "uid": t.account_id,
            "group": { "name": safe },
        }));
    }
    if let Some(page) = &t.page_id {
        resources.push(json!({
            "type": "Confluence Page",
            "uid": page,
            "version": t.page_version.map(|v| v.to_string()),
        }));
    }
    let mut event = json!({
        "category_uid": category_uid,
        "class_uid": class_uid,
        "class_name": class_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "severity_id": severity_id,
        "status_id": status_id,
        "status": status,
        "status_detail": e.outcome.as_str(),
        "time": e.time_us / 1000,
        "message": e.reason.clone().unwrap_or_else(|| e.action.as_str().to_string()),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": r.seq.to_string(),
            "log_name": "arkbridge-audit",
            "correlation_uid": e.run_id,
            "product": {
                "name": "arkbridge",
                "vendor_name": "arkbridge",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "actor": {
            "user": user,
            "session": { "uid": e.actor.session_id, "issuer": e.actor.issuer },
            "authorizations": [],
        },
        "api": { "operation": e.action.as_str() },
        "src_endpoint": match &e.source {
            Some(s) if s.parse::<std::net::IpAddr>().is_ok() => json!({ "ip": s }),
            Some(s) => json!({ "hostname": s }),
            None => json!({ "name": "local" }),
        },
        "resources": resources,
        "unmapped": {
            "arkbridge": {
                "seq": r.seq,
                "leaf_hash": hex::encode(r.leaf_hash()),
                "action": e.action.as_str(),
                "auth_method": e.actor.auth_method.as_str(),
                "target": t,
                "details": e.details,
            }
        },
    });
    match e.action {
        Action::RotationRequested | Action::RotationDone | Action::RotationFailed => {
            event["user"] = json!({ "name": t.object, "uid": t.account_id });
        }
        Action::Login => event["user"] = user,
        Action::ScanFinding => {
            event["finding_info"] =
                json!({ "uid": r.seq.to_string(), "title": "Secret found on a page" });
        }
        _ => {}
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::audit::{AuditEvent, Target, encode};

    #[test]
    fn base_attributes_are_present_and_type_uid_is_derived() {
        for action in Action::ALL {
            let r = encode(3, AuditEvent::new(*action).at(1_764_504_000_123_456));
            let v = record(&r);
            for key in [
                "activity_id",
                "category_uid",
                "class_uid",
                "metadata",
                "severity_id",
                "time",
                "type_uid",
            ] {
                assert!(v.get(key).is_some(), "{action}: {key}");
            }
            let class = v["class_uid"].as_u64().unwrap();
            let activity = v["activity_id"].as_u64().unwrap();
            assert_eq!(v["type_uid"].as_u64().unwrap(), class * 100 + activity);
            assert_eq!(v["time"], 1_764_504_000_123u64);
            assert_eq!(v["metadata"]["product"]["name"], "arkbridge");
        }
    }

    #[test]
    fn rotations_are_account_changes_and_credentials_api_reads() {
        let r = encode(
            1,
            AuditEvent::new(Action::RotationFailed)
                .outcome(Outcome::Failure)
                .target(Target::account("Prod-DB", "payments-db").with_account_id(Some("12_3"))),
        );
        let v = record(&r);
        assert_eq!(
            (v["class_uid"].as_u64(), v["type_uid"].as_u64()),
            (Some(3001), Some(300103))
        );
        assert_eq!(v["status_id"], 2);
        assert_eq!(v["user"]["uid"], "12_3");
        assert_eq!(v["resources"][0]["name"], "Prod-DB/payments-db");
        let r = encode(2, AuditEvent::new(Action::CredentialIssued));
        assert_eq!(record(&r)["type_uid"], 600302);
    }
}
