//! The `principals` table (what verified sign-ins established about people) and the JSON form of
//! group lists kept with approvals and principals.

use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use crate::q;
use crate::{Principal, Result};

/// A group list as stored: a JSON array of strings.
pub(crate) fn groups_json(groups: &[String]) -> String {
    serde_json::Value::from(groups.to_vec()).to_string()
}

/// A stored group list; anything but an array of strings reads as no groups, which can only
/// deny (a group list is only ever used to allow).
pub(crate) fn groups_from_json(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text).unwrap_or_default()
}

pub(crate) async fn remember(pool: &SqlitePool, p: &Principal) -> Result<()> {
    sqlx::query(
        "INSERT INTO principals (email, issuer, subject, confluence_account, groups, \
         verified_micros) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT(email) DO UPDATE SET issuer = excluded.issuer, subject = excluded.subject, \
         confluence_account = COALESCE(excluded.confluence_account, principals.confluence_account), \
         groups = excluded.groups, verified_micros = excluded.verified_micros \
         WHERE excluded.verified_micros >= principals.verified_micros",
    )
    .bind(p.email.to_ascii_lowercase())
    .bind(&p.issuer)
    .bind(&p.subject)
    .bind(&p.confluence_account)
    .bind(groups_json(&p.groups))
    .bind(p.verified_micros)
    .execute(pool)
    .await
    .map_err(q("remember principal"))?;
    Ok(())
}

pub(crate) async fn by_account(pool: &SqlitePool, account: &str) -> Result<Option<Principal>> {
    let row = sqlx::query(
        "SELECT email, issuer, subject, confluence_account, groups, verified_micros \
         FROM principals WHERE confluence_account = $1 ORDER BY verified_micros DESC LIMIT 1",
    )
    .bind(account)
    .fetch_optional(pool)
    .await
    .map_err(q("principal by account"))?;
    Ok(row.as_ref().map(principal_from_row))
}

fn principal_from_row(r: &SqliteRow) -> Principal {
    Principal {
        email: r.get("email"),
        issuer: r.get("issuer"),
        subject: r.get("subject"),
        confluence_account: r.get("confluence_account"),
        groups: groups_from_json(&r.get::<String, _>("groups")),
        verified_micros: r.get("verified_micros"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SqliteStore, Store};

    fn alice(at: i64, groups: &[&str], account: Option<&str>) -> Principal {
        Principal {
            email: "Alice@Example.com".into(),
            issuer: "https://idp.example.com".into(),
            subject: "00u1".into(),
            confluence_account: account.map(str::to_string),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            verified_micros: at,
        }
    }

    #[tokio::test]
    async fn latest_sign_in_wins_and_a_missing_account_keeps_the_known_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        store
            .remember_principal(&alice(10, &["ops"], Some("acc-1")))
            .await
            .unwrap();
        // An older verification arriving late does not overwrite a newer one.
        store
            .remember_principal(&alice(5, &["stale"], Some("acc-1")))
            .await
            .unwrap();
        let p = store.principal_by_account("acc-1").await.unwrap().unwrap();
        assert_eq!(p.groups, ["ops"]);
        assert_eq!(p.email, "alice@example.com");
        // A newer one without an account claim updates groups, keeps the account.
        store
            .remember_principal(&alice(20, &["ops", "approvers"], None))
            .await
            .unwrap();
        let p = store.principal_by_account("acc-1").await.unwrap().unwrap();
        assert_eq!(p.groups, ["ops", "approvers"]);
        assert_eq!(p.verified_micros, 20);
        assert!(store.principal_by_account("acc-2").await.unwrap().is_none());
    }

    #[test]
    fn malformed_group_lists_read_as_no_groups() {
        assert_eq!(groups_from_json("not json"), Vec::<String>::new());
        assert_eq!(groups_from_json("[1,2]"), Vec::<String>::new());
        assert_eq!(groups_from_json(&groups_json(&["a".into()])), ["a"]);
    }
}
