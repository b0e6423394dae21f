//! What the approvals view and `GET /api/v1/approvals` show about a page's write blocks: each
//! block's current script, its approvals, and how the script differs from the last approved one.
//!
//! The store keeps approved digests and the page version each approval was made on, never
//! script texts. The last approved script is therefore read back from Confluence: the page at
//! that version (a historic version, read with the bridge's own Confluence client), the block of
//! the same name in it (core's storage parser), and only if its SHA-256 is the approved digest is
//! it used as the diff's base. Anything else (the version gone, the block renamed on it, another
//! text) is said plainly instead of showing a diff against the wrong text.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use arkbridge_core::runbook::Mode;
use arkbridge_core::storage::{Page, runbooks};
use arkbridge_engine::{VerifiedUser, script_sha256};
use arkbridge_store::{ApprovalRecord, Store};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::line_diff::{DiffLine, all_added, line_diff};

/// A page's write blocks with their approvals.
#[derive(Debug)]
pub(crate) struct PageApprovals {
    pub(crate) page_id: String,
    pub(crate) title: String,
    pub(crate) page_version: u64,
    pub(crate) blocks: Vec<BlockApprovals>,
}

/// One write block.
#[derive(Debug)]
pub(crate) struct BlockApprovals {
    /// The block's position among the page's runbooks (for element ids).
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) script: String,
    pub(crate) script_sha256: String,
    /// Every approval of the block, oldest first.
    pub(crate) history: Vec<ApprovalRecord>,
    pub(crate) state: ApprovalState,
}

/// Where the current script stands.
#[derive(Debug)]
pub(crate) enum ApprovalState {
    /// This exact script is approved.
    Approved,
    /// The block was never approved: the whole script is new.
    NeverApproved { diff: Vec<DiffLine> },
    /// The script changed since the last approval, which was recovered from its page version.
    Changed { diff: Vec<DiffLine> },
    /// The last approved script could not be read back; `why` says what failed.
    Unrecoverable { version: i64, why: String },
}

impl ApprovalState {
    fn word(&self) -> &'static str {
        match self {
            ApprovalState::Approved => "approved",
            ApprovalState::NeverApproved { .. } => "never_approved",
            ApprovalState::Changed { .. } => "changed",
            ApprovalState::Unrecoverable { .. } => "unrecoverable",
        }
    }
}

impl BlockApprovals {
    /// The last approval, whatever script it was for.
    pub(crate) fn last(&self) -> Option<&ApprovalRecord> {
        self.history.last()
    }
}

/// The sentence that introduces an unrecoverable approved script.
pub(crate) fn unrecoverable_text(version: i64, why: &str) -> String {
    format!("the approved script could not be recovered from version {version}: {why}")
}

/// The write blocks of `page_id` as `user` may see them.
pub(crate) async fn page_approvals(
    state: &AppState,
    user: &VerifiedUser,
    page_id: &str,
) -> Result<PageApprovals, ApiError> {
    // Checks that the user may view the page (and audits a refusal) before showing its text.
    let listed = state
        .bridge
        .page_runbooks(user, page_id)
        .await
        .map_err(|e| ApiError::from_engine(&e))?;
    let page = state
        .bridge
        .confluence()
        .get_page(&listed.page_id)
        .await
        .map_err(|e| ApiError::from_engine(&e.into()))?;
    let all = runbooks(&page.body_storage).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_runbook",
            e.to_string(),
        )
    })?;
    // Historic versions read for this answer, so that blocks approved on the same version
    // cost one request.
    let mut versions: HashMap<i64, Result<String, String>> = HashMap::new();
    let mut blocks = Vec::new();
    for (index, block) in all.into_iter().enumerate() {
        if block.mode != Mode::Write {
            continue;
        }
        let history = state
            .bridge
            .store()
            .approvals(&listed.page_id, &block.name)
            .await
            .map_err(|e| ApiError::internal(format!("store: {e}")))?;
        let current = script_sha256(&block.script);
        let approval_state = if history.iter().any(|a| a.script_sha256 == current) {
            ApprovalState::Approved
        } else if let Some(last) = history.last() {
            match approved_script(state, &listed.page_id, last, &mut versions).await {
                Ok(old) => ApprovalState::Changed {
                    diff: line_diff(&old, &block.script),
                },
                Err(why) => ApprovalState::Unrecoverable {
                    version: last.page_version,
                    why,
                },
            }
        } else {
            ApprovalState::NeverApproved {
                diff: all_added(&block.script),
            }
        };
        blocks.push(BlockApprovals {
            index,
            name: block.name,
            script: block.script,
            script_sha256: current,
            history,
            state: approval_state,
        });
    }
    Ok(PageApprovals {
        page_id: listed.page_id,
        title: listed.title,
        page_version: page.version,
        blocks,
    })
}

/// The script `approval` approved, read back from the page version it was made on and checked
/// against its digest; otherwise why not.
async fn approved_script(
    state: &AppState,
    page_id: &str,
    approval: &ApprovalRecord,
    versions: &mut HashMap<i64, Result<String, String>>,
) -> Result<String, String> {
    let version = approval.page_version;
    let number = u64::try_from(version)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| "the approval names no valid page version".to_string())?;
    let storage = match versions.entry(version) {
        Entry::Occupied(known) => known.into_mut(),
        Entry::Vacant(slot) => {
            let body = state
                .bridge
                .confluence()
                .get_page_version(page_id, number)
                .await
                .map(|p| p.body_storage)
                .map_err(|e| format!("Confluence did not return it ({e})"));
            slot.insert(body)
        }
    };
    let storage = storage.as_ref().map_err(Clone::clone)?;
    let script = block_script(storage, &approval.block)?;
    if script_sha256(&script) != approval.script_sha256 {
        return Err(format!(
            "block `{}` on that version is not the approved text (its SHA-256 differs)",
            approval.block
        ));
    }
    Ok(script)
}

/// The script of the runbook block named `name` in `storage`, whatever its directives say (a
/// malformed block elsewhere on the old version does not matter).
fn block_script(storage: &str, name: &str) -> Result<String, String> {
    let page = Page::parse(storage).map_err(|e| format!("that version does not parse ({e})"))?;
    page.runbook_blocks()
        .into_iter()
        .find(|b| b.name == name)
        .map(|b| b.block.body)
        .ok_or_else(|| format!("that version has no block named `{name}`"))
}

/// The API's JSON for a page's approvals (`GET /api/v1/approvals?page=ID`).
pub(crate) fn page_json(page: &PageApprovals) -> Value {
    let blocks: Vec<Value> = page
        .blocks
        .iter()
        .map(|b| {
            let mut out = json!({
                "name": b.name,
                "script_sha256": b.script_sha256,
                "approved": matches!(b.state, ApprovalState::Approved),
                "status": b.state.word(),
                "last_approval": b.last().map(approval_json),
                "approvals": b.history.iter().map(approval_json).collect::<Vec<_>>(),
            });
            match &b.state {
                ApprovalState::NeverApproved { diff } | ApprovalState::Changed { diff } => {
                    out["diff"] = json!(diff);
                }
                ApprovalState::Unrecoverable { version, why } => {
                    out["note"] = json!(unrecoverable_text(*version, why));
                }
                ApprovalState::Approved => {}
            }
            out
        })
        .collect();
    json!({
        "page_id": page.page_id,
        "title": page.title,
        "page_version": page.page_version,
        "blocks": blocks,
    })
}

#[derive(Serialize)]
struct ApprovalJson<'a> {
    approver: &'a str,
    page_version: i64,
    script_sha256: &'a str,
    created_us: i64,
    audit_seq: i64,
}

fn approval_json(a: &ApprovalRecord) -> Value {
    json!(ApprovalJson {
        approver: &a.approver,
        page_version: a.page_version,
        script_sha256: &a.script_sha256,
        created_us: a.created_micros,
        audit_seq: a.audit_seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<p>intro</p><ac:structured-macro ac:name=\"code\"><ac:parameter \
        ac:name=\"title\">arkbridge: restart</ac:parameter><ac:plain-text-body><![CDATA[#!/bin/sh\n\
        # arkbridge: mode write\necho restart]]></ac:plain-text-body></ac:structured-macro>\
        <ac:structured-macro ac:name=\"code\"><ac:parameter ac:name=\"title\">arkbridge: broken\
        </ac:parameter><ac:plain-text-body><![CDATA[# arkbridge: nonsense here\n]]>\
        </ac:plain-text-body></ac:structured-macro>";

    #[test]
    fn a_block_is_found_by_name_even_beside_a_malformed_one() {
        assert_eq!(
            block_script(PAGE, "restart").unwrap(),
            "#!/bin/sh\n# arkbridge: mode write\necho restart"
        );
        assert!(runbooks(PAGE).is_err(), "the other block is malformed");
        let missing = block_script(PAGE, "deploy").unwrap_err();
        assert_eq!(missing, "that version has no block named `deploy`");
        let bad = block_script("<p>unclosed", "restart").unwrap_err();
        assert!(bad.starts_with("that version does not parse"), "{bad}");
    }

    #[test]
    fn the_unrecoverable_sentence_names_the_version() {
        assert_eq!(
            unrecoverable_text(7, "gone"),
            "the approved script could not be recovered from version 7: gone"
        );
    }
}
