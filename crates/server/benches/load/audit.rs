//! The audit side of the load test, through the API as an audit reader: the log's size from
//! `GET /api/v1/audit/verify` (which also recomputes the whole Merkle tree), and the records
//! of a range of sequence numbers from `GET /api/v1/audit?after=N`, counted by action.
//!
//! A `verify` call's own `api.call` record is appended after its answer, so the size it reports
//! excludes it; the paging stops at a given sequence number, since each page call adds a
//! record of its own to the end of the log.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::caller::{Api, Tally};
use crate::world::{PLANTED, User};

/// The most records one `GET /api/v1/audit` returns.
const PAGE: u64 = 1000;

/// The log's size and whether it verified.
pub(crate) async fn size(api: &Api, tally: &Tally, auditor: &User) -> Result<u64, String> {
    let (status, body) = api.get_json(tally, auditor, "/api/v1/audit/verify").await?;
    if status != 200 || body["ok"] != Value::Bool(true) {
        return Err(format!("audit verify: HTTP {status}, body {body}"));
    }
    body["records"]
        .as_u64()
        .ok_or_else(|| format!("audit verify: no record count in {body}"))
}

/// What the records with `after < seq <= upto` hold.
#[derive(Debug, Default)]
pub(crate) struct Records {
    /// Records by action.
    pub(crate) by_action: BTreeMap<String, u64>,
    /// Distinct engine run ids among `run.finished` records.
    pub(crate) finished_runs: u64,
    /// Records whose text holds the planted secret (must be 0).
    pub(crate) leaking: u64,
    /// Places where sequence numbers were skipped.
    pub(crate) gaps: u64,
}

impl Records {
    pub(crate) fn total(&self) -> u64 {
        self.by_action.values().sum()
    }
}

/// Reads every record with `after < seq <= upto`.
pub(crate) async fn records(
    api: &Api,
    tally: &Tally,
    auditor: &User,
    after: u64,
    upto: u64,
) -> Result<Records, String> {
    let mut out = Records::default();
    let mut run_ids = std::collections::BTreeSet::new();
    let mut cursor = after;
    while cursor < upto {
        let path = format!("/api/v1/audit?after={cursor}&limit={PAGE}");
        let (status, body) = api.get_json(tally, auditor, &path).await?;
        if status != 200 {
            return Err(format!("audit records: HTTP {status}, body {body}"));
        }
        let page = body["records"]
            .as_array()
            .ok_or_else(|| format!("audit records: no list in {body}"))?;
        if page.is_empty() {
            return Err(format!(
                "audit records: nothing after {cursor}, expected up to {upto}"
            ));
        }
        for record in page {
            let seq = record["seq"].as_u64().unwrap_or(0);
            if seq > upto {
                break;
            }
            // The API answers in `seq` order; anything else would make the paging loop.
            if seq <= cursor {
                return Err(format!("audit records: seq {seq} came after {cursor}"));
            }
            if seq != cursor + 1 {
                out.gaps += 1;
            }
            cursor = seq;
            let action = record["action"].as_str().unwrap_or("?").to_string();
            if action == "run.finished"
                && let Some(id) = record["run_id"].as_str()
            {
                run_ids.insert(id.to_string());
            }
            if record.to_string().contains(PLANTED) {
                out.leaking += 1;
            }
            *out.by_action.entry(action).or_insert(0) += 1;
        }
        if page.last().and_then(|r| r["seq"].as_u64()).unwrap_or(0) > upto {
            break;
        }
    }
    out.finished_runs = run_ids.len() as u64;
    Ok(out)
}
