//! What a long-running service (`arkbridge serve`) needs of the engine beyond the command
//! line's calls:
//!
//! * [`Bridge::admit`]: the policy decision for a run request, taken before the run is started
//!   in the background, so that a denial can be answered at once (and is audited as the run
//!   flow audits it) while an allowed run proceeds on its own;
//! * [`Bridge::page_runbooks`]: the runbook blocks of a page with each one's decision for the
//!   caller, refused when Confluence says the caller may not view the page;
//! * [`Bridge::user_for_account`]: the user behind a verified Confluence account id (a Forge
//!   Invocation Token's `principal`), through the same lookup as a block's last editor;
//! * [`Bridge::readiness`]: whether the CCP, the PVWA and Confluence answer, without fetching
//!   any secret.
//!
//! The run itself is [`Bridge::run`]: it decides again (the page may have changed in between)
//! and audits every step.

use std::time::Duration;

use arkbridge_confluence::{PermissionSubject, parse_page_ref};
use arkbridge_core::audit::{Action, AuditEvent, Outcome, Target};
use arkbridge_core::policy::Decision;
use arkbridge_core::runbook::BindingKind;
use arkbridge_core::storage::runbooks;
use arkbridge_cyberark::CcpQuery;
use arkbridge_store::Store;
use serde::Serialize;

use crate::decision::script_sha256;
use crate::{Bridge, EngineError, RunRequest, VerifiedUser};

/// How long one readiness probe may take before its service counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The decision on a run request, taken before the run starts.
#[derive(Debug, Clone)]
pub struct Admission {
    pub decision: Decision,
    pub page_id: String,
    pub page_version: u64,
    pub block: String,
    /// The audit record of the denial, when the request was denied.
    pub denial_audit_seq: Option<i64>,
}

/// A page and its runbook blocks as one user sees them.
#[derive(Debug, Clone, Serialize)]
pub struct PageRunbooks {
    pub page_id: String,
    pub title: String,
    pub version: u64,
    pub space: String,
    pub runbooks: Vec<RunbookSummary>,
}

/// One block: what it needs and whether the caller may run it now, with the reasons.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookSummary {
    pub name: String,
    pub mode: String,
    pub language: String,
    pub timeout_secs: Option<u64>,
    pub bindings: Vec<BindingSummary>,
    pub script_sha256: String,
    pub allowed: bool,
    pub reasons: Vec<String>,
}

/// One secret binding of a block, by reference (never a value): each `secret` and
/// `secret-file` directive, and each `fallback` as an entry of its own.
#[derive(Debug, Clone, Serialize)]
pub struct BindingSummary {
    /// The variable the script reads.
    pub name: String,
    /// The `cyberark://` reference.
    pub reference: String,
    /// `secret` (the value in the variable), `secret-file` (the path of a file holding it) or
    /// `fallback` (the read-only credential used when CyberArk is unavailable).
    pub kind: &'static str,
}

/// Whether one service answered the readiness probe.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceCheck {
    pub service: &'static str,
    pub reachable: bool,
    pub detail: String,
}

/// The readiness of the services a run needs.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub checks: Vec<ServiceCheck>,
    /// Whether runs may go on read-only while CyberArk is unavailable (a fallback CCP or the
    /// fallback cache is configured).
    pub fallback_configured: bool,
}

impl Readiness {
    fn reachable(&self, service: &str) -> bool {
        self.checks
            .iter()
            .any(|c| c.service == service && c.reachable)
    }

    /// `ready` (everything answers), `degraded` (CyberArk does not, but runs can go on
    /// read-only) or `unavailable`.
    pub fn status(&self) -> &'static str {
        let cyberark = self.reachable("ccp") && self.reachable("pvwa");
        match (self.reachable("confluence"), cyberark) {
            (true, true) => "ready",
            (true, false) if self.fallback_configured => "degraded",
            _ => "unavailable",
        }
    }
}

impl<S: Store> Bridge<S> {
    /// Decides whether `req.user` may run the block now. A denial is audited (`policy.decided`,
    /// `denied`, with every reason) exactly as a run's own denial; an allowed request is not,
    /// since the run that follows decides and audits again.
    pub async fn admit(&self, req: &RunRequest) -> Result<Admission, EngineError> {
        let (page, space, runbook) = self.find_block(req).await?;
        let decision = self.decide_run(&req.user, &page, &space, &runbook).await?;
        let mut denial_audit_seq = None;
        if !decision.allowed {
            let rec = self
                .audit(
                    &req.user.email,
                    AuditEvent::new(Action::PolicyDecided)
                        .outcome(Outcome::Denied)
                        .reason(decision.explain())
                        .target(Target::block(&page.id, page.version, &runbook.name))
                        .details(serde_json::json!({
                            "block": runbook.name, "reasons": decision.reasons(), "via": "api",
                        })),
                )
                .await?;
            denial_audit_seq = Some(rec.seq);
        }
        Ok(Admission {
            decision,
            page_id: page.id,
            page_version: page.version,
            block: runbook.name,
            denial_audit_seq,
        })
    }

    /// The page's runbook blocks with the caller's decision for each. Refused (`Denied`) when
    /// Confluence says the caller may not view the page, so that nothing of it is shown.
    pub async fn page_runbooks(
        &self,
        user: &VerifiedUser,
        page: &str,
    ) -> Result<PageRunbooks, EngineError> {
        let page_ref = parse_page_ref(page)?;
        let page = self.confluence.get_page(page_ref.id()).await?;
        let may_view = match &user.confluence_account {
            Some(account) => self
                .confluence
                .check_permission(&page.id, &PermissionSubject::User(account.clone()), "read")
                .await
                .map(|c| c.has_permission)
                .unwrap_or(false),
            None => false,
        };
        if !may_view {
            let reasons = format!(
                "{} may not view page {} (or Confluence could not say)",
                user.email, page.id
            );
            let rec = self
                .audit(
                    &user.email,
                    AuditEvent::new(Action::PolicyDecided)
                        .outcome(Outcome::Denied)
                        .reason(reasons.clone())
                        .target(Target::page(&page.id))
                        .details(serde_json::json!({ "listing": true, "via": "api" })),
                )
                .await?;
            return Err(EngineError::Denied {
                reasons,
                audit_seq: rec.seq,
            });
        }
        let space = self.confluence.page_space(&page).await?;
        let blocks = runbooks(&page.body_storage).map_err(|source| EngineError::Page {
            page_id: page.id.clone(),
            source,
        })?;
        let mut summaries = Vec::with_capacity(blocks.len());
        for block in blocks {
            let decision = self.decide_run(user, &page, &space, &block).await?;
            summaries.push(RunbookSummary {
                mode: block.mode.as_str().to_string(),
                // The interpreter a block without a language runs with.
                language: block.language.clone().unwrap_or_else(|| "bash".into()),
                timeout_secs: block.timeout.map(|t| t.as_secs()),
                bindings: block
                    .bindings
                    .iter()
                    .flat_map(|b| {
                        let main = BindingSummary {
                            name: b.variable.clone(),
                            reference: b.reference.to_string(),
                            kind: match b.kind {
                                BindingKind::Env => "secret",
                                BindingKind::File => "secret-file",
                            },
                        };
                        let fallback = b.fallback.as_ref().map(|f| BindingSummary {
                            name: b.variable.clone(),
                            reference: f.to_string(),
                            kind: "fallback",
                        });
                        std::iter::once(main).chain(fallback)
                    })
                    .collect(),
                script_sha256: script_sha256(&block.script),
                allowed: decision.allowed,
                reasons: decision.reasons(),
                name: block.name,
            });
        }
        Ok(PageRunbooks {
            page_id: page.id,
            title: page.title,
            version: page.version,
            space: space.key,
            runbooks: summaries,
        })
    }

    /// The user behind a verified Confluence account id, as the configured identity provider
    /// knows them (see [`VerifiedUser::by_confluence_account`] and the principals kept under
    /// OIDC); `None` when unknown.
    pub async fn user_for_account(&self, account_id: &str) -> Option<VerifiedUser> {
        self.user_by_confluence_account(account_id).await
    }

    /// Asks the CCP, the PVWA and Confluence whether they answer. The CCP is asked for an
    /// account that does not exist (a refusal proves it answers; nothing is handed over), the
    /// PVWA for a safe search, Confluence for a space by key.
    pub async fn readiness(&self) -> Readiness {
        let ccp = async {
            let query = CcpQuery::for_account("arkbridge-readiness", "probe")
                .reason("arkbridge readiness probe");
            match tokio::time::timeout(PROBE_TIMEOUT, self.ccp.get(&query)).await {
                Ok(Ok(_)) => (true, "answered".to_string()),
                Ok(Err(e)) if e.is_unavailable() => (false, e.to_string()),
                Ok(Err(_)) => (true, "answered (the probe account is refused)".to_string()),
                Err(_) => (false, "no answer in 5 s".to_string()),
            }
        };
        let pvwa = async {
            let probe = self.with_pvwa(async |p| p.list_safes(Some("arkbridge-readiness")).await);
            match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                Ok(Ok(_)) => (true, "answered".to_string()),
                Ok(Err(e)) if e.is_unavailable() => (false, e.to_string()),
                Ok(Err(e)) => (true, format!("answered with a refusal: {e}")),
                Err(_) => (false, "no answer in 5 s".to_string()),
            }
        };
        let confluence = async {
            let probe = self.confluence.space_by_key("ARKBRIDGEREADINESS");
            match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                Ok(Ok(_)) => (true, "answered".to_string()),
                Ok(Err(e)) if e.is_unavailable() => (false, e.to_string()),
                Ok(Err(e)) => (false, e.to_string()),
                Err(_) => (false, "no answer in 5 s".to_string()),
            }
        };
        let (ccp, pvwa, confluence) = tokio::join!(ccp, pvwa, confluence);
        let check = |service, (reachable, detail): (bool, String)| ServiceCheck {
            service,
            reachable,
            detail,
        };
        Readiness {
            checks: vec![
                check("ccp", ccp),
                check("pvwa", pvwa),
                check("confluence", confluence),
            ],
            fallback_configured: self.config.cyberark.fallback_ccp.is_some()
                || self.config.cyberark.fallback_cache.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readiness(ccp: bool, pvwa: bool, confluence: bool, fallback: bool) -> Readiness {
        let c = |service, reachable| ServiceCheck {
            service,
            reachable,
            detail: String::new(),
        };
        Readiness {
            checks: vec![c("ccp", ccp), c("pvwa", pvwa), c("confluence", confluence)],
            fallback_configured: fallback,
        }
    }

    #[test]
    fn readiness_is_degraded_only_with_a_fallback_and_confluence() {
        assert_eq!(readiness(true, true, true, false).status(), "ready");
        assert_eq!(readiness(false, true, true, true).status(), "degraded");
        assert_eq!(readiness(true, false, true, false).status(), "unavailable");
        assert_eq!(readiness(true, true, false, true).status(), "unavailable");
    }
}
