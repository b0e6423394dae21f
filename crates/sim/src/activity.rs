//! The simulated Vault's audit: one [`Activity`] per logon, logoff, retrieval (PVWA and CCP),
//! credential operation and account change, with the fields of the Gen2 account activity
//! (`Date` in epoch seconds, `User`, `Action`, `ActionID`, `ClientID`, `Alert`, `MoreInfo`,
//! `Reason`).
//!
//! Account activities are kept on the account (`GET /API/Accounts/{id}/Activities`); every
//! activity, including logons that belong to no account, also goes to the Vault-wide
//! [`AuditLog`], which the simulator's admin endpoint serves. The log keeps the newest
//! [`AUDIT_CAPACITY`] records so that a long-running simulator does not grow without bound.

use std::collections::VecDeque;

use serde_json::{Value, json};

/// How many records the Vault-wide log keeps.
pub(crate) const AUDIT_CAPACITY: usize = 10_000;

/// Simulator-specific activity codes (not taken from a real Vault).
pub(crate) const ACTION_LOGON: (&str, u32) = ("Logon", 7);
pub(crate) const ACTION_LOGON_FAILED: (&str, u32) = ("Logon failed", 8);
pub(crate) const ACTION_LOGOFF: (&str, u32) = ("Logoff", 9);

/// Who did what, when and why.
#[derive(Clone)]
pub(crate) struct Activity {
    /// Epoch seconds.
    pub(crate) date: i64,
    pub(crate) user: String,
    pub(crate) action: &'static str,
    pub(crate) action_id: u32,
    /// The interface that did it: `PVWA`, `AIMWebService` (the CCP) or `CPM`.
    pub(crate) client_id: &'static str,
    pub(crate) alert: bool,
    pub(crate) more_info: String,
    pub(crate) reason: String,
}

impl Activity {
    /// An activity dated now, without alert, extra information or reason.
    pub(crate) fn now(user: &str, action: (&'static str, u32), client_id: &'static str) -> Self {
        Activity {
            date: crate::state::now_epoch(),
            user: user.to_string(),
            action: action.0,
            action_id: action.1,
            client_id,
            alert: false,
            more_info: String::new(),
            reason: String::new(),
        }
    }

    /// The Gen2 activity JSON (`GET /API/Accounts/{id}/Activities`).
    pub(crate) fn json(&self) -> Value {
        json!({
            "Date": self.date,
            "User": self.user,
            "Action": self.action,
            "ActionID": self.action_id,
            "ClientID": self.client_id,
            "Alert": self.alert,
            "MoreInfo": self.more_info,
            "Reason": self.reason,
        })
    }
}

/// One record of the Vault-wide log: an activity and the account it concerns, if any.
pub(crate) struct AuditRecord {
    pub(crate) activity: Activity,
    pub(crate) account_id: Option<String>,
    pub(crate) safe: Option<String>,
    pub(crate) object: Option<String>,
}

/// The Vault-wide log, oldest first, bounded by [`AUDIT_CAPACITY`].
#[derive(Default)]
pub(crate) struct AuditLog(VecDeque<AuditRecord>);

impl AuditLog {
    pub(crate) fn push(&mut self, record: AuditRecord) {
        if self.0.len() == AUDIT_CAPACITY {
            self.0.pop_front();
        }
        self.0.push_back(record);
    }

    /// The records as JSON, newest first (the activity fields plus `AccountID`, `Safe`,
    /// `Object`, which are `null` for activities such as logons).
    pub(crate) fn json(&self) -> Value {
        let list: Vec<Value> = self
            .0
            .iter()
            .rev()
            .map(|r| {
                let mut v = r.activity.json();
                if let Value::Object(m) = &mut v {
                    m.insert("AccountID".into(), json!(r.account_id));
                    m.insert("Safe".into(), json!(r.safe));
                    m.insert("Object".into(), json!(r.object));
                }
                v
            })
            .collect();
        json!({ "Activities": list })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_newest_records() {
        let mut log = AuditLog::default();
        for i in 0..AUDIT_CAPACITY + 5 {
            let mut a = Activity::now("u", ACTION_LOGON, "PVWA");
            a.more_info = i.to_string();
            log.push(AuditRecord {
                activity: a,
                account_id: None,
                safe: None,
                object: None,
            });
        }
        let v = log.json();
        let list = v["Activities"].as_array().unwrap();
        assert_eq!(list.len(), AUDIT_CAPACITY);
        assert_eq!(list[0]["MoreInfo"], (AUDIT_CAPACITY + 4).to_string());
        assert_eq!(list[AUDIT_CAPACITY - 1]["MoreInfo"], "5");
        assert_eq!(list[0]["AccountID"], Value::Null);
    }
}
