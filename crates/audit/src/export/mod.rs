//! Exports: JSON Lines (the canonical record with its leaf index and hash), CEF with CyberArk
//! Vault's header and label conventions, and OCSF 1.x JSON, one event per line.

pub mod cef;
pub mod ocsf;

use std::io::Write;
use std::str::FromStr;

use arkbridge_core::audit::AuditRecord;
use arkbridge_store::{AuditFilter, Store};

use crate::AuditError;

/// Records read per page while exporting.
const PAGE: i64 = 5_000;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Cef,
    Ocsf,
}

impl FromStr for Format {
    type Err = AuditError;
    fn from_str(s: &str) -> Result<Format, AuditError> {
        match s {
            "jsonl" => Ok(Format::Jsonl),
            "cef" => Ok(Format::Cef),
            "ocsf" => Ok(Format::Ocsf),
            other => Err(AuditError::Invalid(format!(
                "unknown export format `{other}` (jsonl, cef or ocsf)"
            ))),
        }
    }
}

/// The JSON Lines form: `{"leaf_hash":"<hex>","leaf_index":N,"record":<canonical record>}`. The
/// line is itself canonical JSON, and `record` holds the exact bytes the leaf hash covers, so
/// any line can be checked against an inclusion proof with any RFC 8785 implementation.
pub fn jsonl(r: &AuditRecord) -> String {
    format!(
        "{{\"leaf_hash\":\"{}\",\"leaf_index\":{},\"record\":{}}}",
        hex::encode(r.leaf_hash()),
        r.leaf_index(),
        r.canonical
    )
}

/// One line of `format` for `r`.
pub fn line(format: Format, r: &AuditRecord) -> String {
    match format {
        Format::Jsonl => jsonl(r),
        Format::Cef => cef::record(r),
        Format::Ocsf => ocsf::record(r).to_string(),
    }
}

/// Writes every record matching `filter` to `out`, one line each. Returns how many.
pub async fn export<S: Store>(
    store: &S,
    filter: &AuditFilter,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64, AuditError> {
    let mut after = 0;
    let mut n = 0;
    loop {
        let page = store.audit_query(filter, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            writeln!(out, "{}", line(format, r))
                .map_err(|e| AuditError::Io(format!("cannot write the export: {e}")))?;
            n += 1;
        }
    }
    out.flush()
        .map_err(|e| AuditError::Io(format!("cannot write the export: {e}")))?;
    Ok(n)
}
