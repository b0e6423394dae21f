//! Shared helpers of the audit integration tests: a SQLite store in a temporary folder, a
//! signing key, varied events, and raw SQL access for tampering.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;

use arkbridge_audit::{Checkpointer, SigningKey, VerifierKey};
use arkbridge_core::audit::{Action, Actor, AuditEvent, AuthMethod, Outcome, Target};
use arkbridge_store::{SqliteStore, Store, StoredCheckpoint};

pub const ORIGIN: &str = "example.com/arkbridge-audit";

pub struct TestLog {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
    pub key: Arc<SigningKey>,
    pub public: VerifierKey,
}

impl TestLog {
    pub async fn new() -> TestLog {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("arkbridge.db"))
            .await
            .unwrap();
        let (key, public) = key(ORIGIN);
        TestLog {
            dir,
            store,
            key,
            public,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("arkbridge.db")
    }

    pub async fn append(&self, from: i64, n: i64) {
        for i in from..from + n {
            self.store.append_audit(event(i)).await.unwrap();
        }
    }

    pub async fn checkpoint(&self) -> StoredCheckpoint {
        Checkpointer::new(self.store.clone(), self.key.clone())
            .checkpoint()
            .await
            .unwrap()
    }

    /// Raw SQL on the store's file, as an attacker with file access would.
    pub async fn sql(&self, statement: &str) -> u64 {
        let url = format!("sqlite://{}", self.path().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let done = sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        done.rows_affected()
    }
}

pub fn key(name: &str) -> (Arc<SigningKey>, VerifierKey) {
    let (private, public) = arkbridge_audit::keys::generate(name).unwrap();
    (
        Arc::new(SigningKey::from_base64(name, &private).unwrap()),
        public,
    )
}

/// A varied event: users, actions, targets and outcomes differ with `i`.
pub fn event(i: i64) -> AuditEvent {
    let users = ["alice@example.com", "bob@example.com", "carol@example.com"];
    let mut actor = Actor::user(
        "https://id.example.com",
        users[i as usize % 3],
        AuthMethod::Oidc,
    );
    actor.session_id = Some(format!("sess-{}", i / 4));
    let (action, target, outcome) = match i % 4 {
        0 => (Action::RunRequested, Target::page("1001"), Outcome::Pending),
        1 => (
            Action::PolicyDecided,
            Target::block("1001", 7, "restart"),
            if i % 3 == 1 {
                Outcome::Denied
            } else {
                Outcome::Success
            },
        ),
        2 => (
            Action::CredentialIssued,
            Target::account("Prod-DB", "payments-db").with_account_id(Some("12_3")),
            Outcome::Success,
        ),
        _ => (
            Action::RunFinished,
            Target::block("2002", 3, "flush"),
            Outcome::Success,
        ),
    };
    AuditEvent::new(action)
        .at(1_764_504_000_000_000 + i * 1_000_000)
        .by(actor)
        .from_address("10.0.0.7")
        .target(target)
        .outcome(outcome)
        .run(format!("run-{}", i / 4))
        .details(serde_json::json!({ "i": i }))
}
