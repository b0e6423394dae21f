//! Gathering the facts a policy decision needs, then deciding (`arkbridge_core::policy`).
//!
//! * the user: verified identity, identity-provider groups, role in the page's space (from the
//!   space's permissions: the user's own and those of their Confluence groups);
//! * whether Confluence lets the user view the page (`permission/check`);
//! * the members of each bound safe, read through the PVWA (rule 4);
//! * for `write` blocks, the recorded approvals and the block's last editor, found by walking
//!   the page's versions back to the one that introduced the block's current text (rule 5).
//!
//! Anything that cannot be learned stays unknown, and the rule that needs it denies.

use arkbridge_confluence::{Page, PermissionSubject, Space, SpacePermission};
use arkbridge_core::policy::{
    Approval, ApprovalFacts, Decision, Facts, PageFacts, SafeMember, SafeMembers, SpaceRole,
    UserFacts, decide,
};
use arkbridge_core::runbook::{Mode, Runbook};
use arkbridge_core::storage::runbooks;
use arkbridge_store::Store;
use sha2::{Digest, Sha256};

use crate::{Bridge, EngineError, VerifiedUser, now_micros};

/// How many earlier versions of a page are read to find who last changed a block. A block
/// unchanged for longer than that has an unknown last editor, which denies a `write` run
/// until someone saves the block again.
const MAX_VERSIONS_WALKED: u64 = 100;

/// SHA-256 (lower-case hex) of a block's text: what an approval binds to.
pub fn script_sha256(script: &str) -> String {
    hex::encode(Sha256::digest(script.as_bytes()))
}

/// The role a space permission grants: `read` on the space is view, `create` on pages is edit,
/// `administer` on the space is admin.
fn role_of(operation: &str, target: &str) -> Option<SpaceRole> {
    match (operation, target) {
        ("read", "space") => Some(SpaceRole::View),
        ("create", "page") => Some(SpaceRole::Edit),
        ("administer", "space") => Some(SpaceRole::Admin),
        _ => None,
    }
}

impl<S: Store> Bridge<S> {
    /// Decides whether `user` may run `runbook` from `page`, with every rule's reasons.
    pub async fn decide_run(
        &self,
        user: &VerifiedUser,
        page: &Page,
        space: &Space,
        runbook: &Runbook,
    ) -> Result<Decision, EngineError> {
        let hash = script_sha256(&runbook.script);
        let settings = &self.config.policy;
        // Read once per decision: the requester's role and the last editor's come from it.
        let permissions = self.space_permissions(space).await;
        let user_facts = self.user_facts(user, permissions.as_deref()).await;
        let page_facts = PageFacts {
            id: page.id.clone(),
            version: page.version,
            space: space.key.clone(),
            user_can_view: self.can_view(user, &page.id).await,
        };
        let members = if settings.require_safe_membership && !runbook.bindings.is_empty() {
            Some(self.safe_members(runbook).await)
        } else {
            None
        };
        let approval = if runbook.mode == Mode::Write {
            Some(
                self.approval_facts(page, permissions.as_deref(), runbook)
                    .await?,
            )
        } else {
            None
        };
        let facts = Facts {
            user: &user_facts,
            page: &page_facts,
            runbook,
            script_sha256: &hash,
            safe_members: members.as_ref(),
            approval: approval.as_ref(),
        };
        Ok(decide(&self.config.grants, settings, &facts))
    }

    async fn user_facts(
        &self,
        user: &VerifiedUser,
        permissions: Option<&[SpacePermission]>,
    ) -> UserFacts {
        UserFacts {
            id: user.email.clone(),
            verified_by: Some(user.verified_by.to_string()),
            groups: user.groups.clone(),
            space_role: self.space_role(user, permissions).await,
        }
    }

    /// The space's permission assignments; `None` (logged) when they cannot be read, which
    /// leaves every user without a role.
    async fn space_permissions(&self, space: &Space) -> Option<Vec<SpacePermission>> {
        let listed = match self.confluence.space_permissions(space) {
            Ok(paged) => paged.collect_all().await,
            Err(e) => Err(e),
        };
        listed
            .inspect_err(|e| {
                tracing::warn!(error = %e, space = %space.key, "cannot read space permissions");
            })
            .ok()
    }

    /// The user's role in the space; `None` when they hold none or it cannot be read.
    async fn space_role(
        &self,
        user: &VerifiedUser,
        permissions: Option<&[SpacePermission]>,
    ) -> Option<SpaceRole> {
        let permissions = permissions?;
        let account = user.confluence_account.as_deref()?;
        let groups = match self.confluence.user_groups(account).await {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the user's Confluence groups");
                Vec::new()
            }
        };
        permissions
            .iter()
            .filter(|p| match p.principal_type.as_str() {
                "user" => p.principal_id == account,
                "group" => groups
                    .iter()
                    .any(|g| g.id.as_deref() == Some(p.principal_id.as_str())),
                _ => false,
            })
            .filter_map(|p| role_of(&p.operation, &p.target_type))
            .max()
    }

    /// Confluence's answer to "may this user read the page"; `None` when it cannot be asked.
    async fn can_view(&self, user: &VerifiedUser, page_id: &str) -> Option<bool> {
        let account = user.confluence_account.clone()?;
        match self
            .confluence
            .check_permission(page_id, &PermissionSubject::User(account), "read")
            .await
        {
            Ok(check) => Some(check.has_permission),
            Err(e) => {
                tracing::warn!(error = %e, page_id, "cannot check the user's view permission");
                None
            }
        }
    }

    /// The members of every safe the block binds, as the PVWA lists them. Each listing is kept
    /// in the store; while the PVWA is unavailable (not when it refuses), the kept listings are
    /// used if they are recent enough, and the reasons say so.
    async fn safe_members(&self, runbook: &Runbook) -> SafeMembers {
        let mut safes: Vec<String> = Vec::new();
        for b in &runbook.bindings {
            for r in std::iter::once(&b.reference).chain(b.fallback.as_ref()) {
                if !safes.iter().any(|s| s.eq_ignore_ascii_case(&r.safe)) {
                    safes.push(r.safe.clone());
                }
            }
        }
        let mut known = Vec::new();
        for safe in &safes {
            let listed = self
                .with_pvwa(async |p| p.list_safe_members(safe, None).await)
                .await;
            match listed {
                Ok(members) => {
                    let members: Vec<SafeMember> = members
                        .into_iter()
                        .map(|m| SafeMember {
                            is_group: matches!(
                                m.member_type,
                                Some(arkbridge_cyberark::MemberType::Group)
                            ),
                            permissions: m
                                .permissions
                                .iter()
                                .filter(|(_, on)| *on)
                                .map(|(k, _)| k.to_string())
                                .collect(),
                            name: m.member_name,
                        })
                        .collect();
                    self.keep_members(safe, &members).await;
                    known.push((safe.clone(), members));
                }
                Err(e) if crate::fallback::unavailability(&e).is_some() => {
                    return self.members_snapshot(&safes, &e.to_string()).await;
                }
                Err(e) => return SafeMembers::Unavailable(format!("safe {safe}: {e}")),
            }
        }
        SafeMembers::Known(known)
    }

    async fn keep_members(&self, safe: &str, members: &[SafeMember]) {
        let json = serde_json::to_string(members).unwrap_or_else(|_| "[]".into());
        if let Err(e) = self
            .store
            .save_safe_members(safe, &json, now_micros())
            .await
        {
            tracing::warn!(error = %e, safe, "cannot keep the safe's member list");
        }
    }

    /// Every safe's kept member list, if each is at most `members_snapshot_max_age_secs` old.
    async fn members_snapshot(&self, safes: &[String], outage: &str) -> SafeMembers {
        let max_age = self.config.policy.members_snapshot_max_age_secs;
        let unavailable = |why: String| SafeMembers::Unavailable(format!("{outage}; {why}"));
        if max_age == 0 {
            return unavailable(
                "member snapshots are off (members_snapshot_max_age_secs = 0)".into(),
            );
        }
        let mut listed = Vec::new();
        let mut oldest = 0u64;
        for safe in safes {
            let kept = match self.store.safe_members_snapshot(safe).await {
                Ok(Some(kept)) => kept,
                Ok(None) => {
                    return unavailable(format!("no earlier listing of safe {safe} is kept"));
                }
                Err(e) => return unavailable(format!("the kept listing of safe {safe}: {e}")),
            };
            let age = u64::try_from((now_micros() - kept.1).max(0) / 1_000_000).unwrap_or(0);
            if age > max_age {
                return unavailable(format!(
                    "the kept listing of safe {safe} is {age} s old, older than \
                     members_snapshot_max_age_secs ({max_age} s)"
                ));
            }
            let Ok(members) = serde_json::from_str::<Vec<SafeMember>>(&kept.0) else {
                return unavailable(format!("the kept listing of safe {safe} is unreadable"));
            };
            oldest = oldest.max(age);
            listed.push((safe.clone(), members));
        }
        SafeMembers::Snapshot {
            safes: listed,
            note: format!(
                "the PVWA is unavailable ({outage}); safe members as it listed them at most {oldest} s ago"
            ),
        }
    }

    /// The approvals recorded for the block and who last changed its text.
    async fn approval_facts(
        &self,
        page: &Page,
        permissions: Option<&[SpacePermission]>,
        runbook: &Runbook,
    ) -> Result<ApprovalFacts, EngineError> {
        let mut approvals = Vec::new();
        for a in self.store.approvals(&page.id, &runbook.name).await? {
            approvals.push(Approval {
                approver_groups: self
                    .approval_groups(&a.approver, a.approver_groups.as_deref())
                    .await,
                approver: a.approver,
                script_sha256: a.script_sha256,
                page_version: u64::try_from(a.page_version).unwrap_or(0),
            });
        }
        let editor = match self.block_last_editor(page, runbook).await {
            Some(account) => self.user_by_confluence_account(&account).await,
            None => None,
        };
        let last_editor = match editor {
            Some(editor) => Some(self.user_facts(&editor, permissions).await),
            None => None,
        };
        Ok(ApprovalFacts {
            approvals,
            last_editor,
        })
    }

    /// The account id of the author of the version that introduced the block's current text.
    async fn block_last_editor(&self, page: &Page, runbook: &Runbook) -> Option<String> {
        let mut author = page.version_author_id.clone();
        let oldest = page.version.saturating_sub(MAX_VERSIONS_WALKED).max(1);
        let mut n = page.version;
        while n > 1 {
            let earlier = match self.confluence.get_page_version(&page.id, n - 1).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, page_id = %page.id, version = n - 1, "cannot read an earlier page version");
                    return None;
                }
            };
            let same = runbooks(&earlier.body_storage).is_ok_and(|blocks| {
                blocks
                    .iter()
                    .any(|b| b.name == runbook.name && b.script == runbook.script)
            });
            if !same {
                return author;
            }
            author = earlier.version_author_id.clone();
            n -= 1;
            if n <= oldest && n > 1 {
                return None;
            }
        }
        author
    }
}
