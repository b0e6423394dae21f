//! People other than the caller, under OIDC with groups from the token.
//!
//! A token proves who holds it, not who anybody else is. So with `groups_from = "token"` and no
//! directory to ask, arkbridge keeps what each verified sign-in established (e-mail, issuer,
//! subject, Confluence account id, groups) in the store, and decides about a block's last editor
//! from their own latest sign-in, if it is recent enough (`policy.principal_max_age_hours`).
//! Approvers are judged by the groups their token carried when they approved, which the approval
//! row keeps. Anything older or missing is unknown, and the policy denies.

use arkbridge_core::config::{GroupsFrom, IdentityProvider};
use arkbridge_store::{Principal, Store};

use crate::{Bridge, VerifiedUser, now_micros};

/// How a last editor known only from their own latest sign-in shows in explanations.
pub(crate) const LAST_SIGN_IN: &str = "oidc-last-sign-in";

const MICROS_PER_HOUR: i64 = 3_600_000_000;

impl<S: Store> Bridge<S> {
    /// Whether other people's groups can only come from their own tokens: OIDC without LDAP.
    pub(crate) fn groups_from_token(&self) -> bool {
        self.config.identity.provider == IdentityProvider::Oidc
            && self
                .config
                .identity
                .oidc
                .as_ref()
                .is_some_and(|o| o.groups_from == GroupsFrom::Token)
    }

    /// Keeps what a verified OIDC sign-in established. A failure is logged, not raised: it can
    /// only make a later decision about this person deny.
    pub(crate) async fn keep_principal(&self, user: &VerifiedUser) {
        let principal = Principal {
            email: user.email.clone(),
            issuer: user.issuer.clone(),
            subject: user.subject.clone(),
            confluence_account: user.confluence_account.clone(),
            groups: user.groups.clone(),
            verified_micros: now_micros(),
        };
        if let Err(e) = self.store.remember_principal(&principal).await {
            tracing::warn!(error = %e, user = %user.email, "cannot keep the signed-in user's identity");
        }
    }

    /// The person whose latest verified sign-in carried this Confluence account id, with the
    /// groups of that sign-in; `None` when there is none or it is older than the configured age.
    pub(crate) async fn principal_user(&self, account_id: &str) -> Option<VerifiedUser> {
        let found = match self.store.principal_by_account(account_id).await {
            Ok(found) => found?,
            Err(e) => {
                tracing::warn!(error = %e, account_id, "cannot read kept identities");
                return None;
            }
        };
        let max_age = i64::try_from(self.config.policy.principal_max_age_hours)
            .unwrap_or(i64::MAX)
            .saturating_mul(MICROS_PER_HOUR);
        if now_micros().saturating_sub(found.verified_micros) > max_age {
            tracing::info!(
                account_id,
                user = %found.email,
                "the last editor's latest sign-in is older than policy.principal_max_age_hours"
            );
            return None;
        }
        Some(VerifiedUser {
            email: found.email,
            groups: found.groups,
            verified_by: LAST_SIGN_IN,
            confluence_account: Some(account_id.to_string()),
            issuer: found.issuer,
            subject: found.subject,
        })
    }

    /// The groups an approval counts with: with groups from the token, those the approver's
    /// token carried when they approved (none for approvals recorded before arkbridge kept
    /// them); otherwise the approver's groups now, from the config or the directory, so that a
    /// revoked membership stops counting at once.
    pub(crate) async fn approval_groups(
        &self,
        approver: &str,
        recorded: Option<&[String]>,
    ) -> Vec<String> {
        if self.groups_from_token() {
            recorded.map(<[String]>::to_vec).unwrap_or_default()
        } else {
            self.approver_groups(approver).await
        }
    }
}
