//! RFC 5424 syslog messages carrying CEF, framed by octet counting (RFC 6587 §3.4.1, which RFC
//! 5425 requires over TLS): `<LEN> <SYSLOG-MSG>`.
//!
//! `<PRI>1 TIMESTAMP HOSTNAME arkbridge - MSGID - MSG`: facility 13 (log audit), severity
//! informational (6) or warning (4) for refusals and failures; the event's own time in UTC with
//! microseconds; `MSGID` `audit` or `checkpoint`; no structured data; the CEF line as `MSG`.

use arkbridge_core::audit::{Action, AuditRecord, Outcome};

use crate::checkpoint::SignedCheckpoint;
use crate::export::cef;
use crate::time::format_us;

/// Facility 13, "log audit".
const FACILITY: u8 = 13;
const APP_NAME: &str = "arkbridge";

/// A valid RFC 5424 HOSTNAME (1–255 printable US-ASCII), or the nil value `-`.
pub fn hostname(name: Option<&str>) -> String {
    match name {
        Some(h)
            if !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| (33..=126).contains(&b)) =>
        {
            h.to_string()
        }
        _ => "-".to_string(),
    }
}

fn severity(action: Action, outcome: Outcome) -> u8 {
    match (action, outcome) {
        (Action::ScanFinding, _) | (_, Outcome::Denied | Outcome::Failure) => 4,
        _ => 6,
    }
}

fn message(severity: u8, time_us: i64, host: &str, msgid: &str, msg: &str) -> String {
    format!(
        "<{}>1 {} {host} {APP_NAME} - {msgid} - {msg}",
        FACILITY * 8 + severity,
        format_us(time_us)
    )
}

/// The syslog message of an audit record.
pub fn record_message(r: &AuditRecord, host: &str) -> String {
    let e = &r.event;
    message(
        severity(e.action, e.outcome),
        e.time_us,
        host,
        "audit",
        &cef::record(r),
    )
}

/// The syslog message of a checkpoint.
pub fn checkpoint_message(id: i64, cp: &SignedCheckpoint, host: &str) -> String {
    message(
        6,
        cp.checkpoint.time_us,
        host,
        "checkpoint",
        &cef::checkpoint(id, cp),
    )
}

/// Octet-counting framing: the message's length in bytes, a space, the message.
pub fn frame(msg: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use arkbridge_core::audit::{AuditEvent, encode};

    #[test]
    fn messages_follow_rfc5424_and_are_octet_counted() {
        let r = encode(
            4,
            AuditEvent::new(Action::PolicyDecided)
                .outcome(Outcome::Denied)
                .at(1_764_504_000_000_001),
        );
        let m = record_message(&r, &hostname(Some("bridge-1")));
        assert!(
            m.starts_with(
                "<108>1 2025-11-30T12:00:00.000001Z bridge-1 arkbridge - audit - CEF:0|arkbridge|"
            ),
            "{m}"
        );
        let mut out = Vec::new();
        frame("héllo", &mut out);
        assert_eq!(out, b"6 h\xc3\xa9llo");
        assert_eq!(hostname(Some("bad host")), "-");
        assert_eq!(hostname(None), "-");
    }
}
