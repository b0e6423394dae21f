//! The lease history the daily compliance audit reads: every lease created since a time, with
//! when it was created and last changed, whatever its state.

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use crate::{Lease, LeaseState, Result, StoreError};

/// A lease with its timestamps (Unix microseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedLease {
    pub lease: Lease,
    pub created_micros: i64,
    /// When its state last changed (for a rotated lease: when the rotation was recorded).
    pub updated_micros: i64,
}

impl Serialize for TimedLease {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let l = &self.lease;
        let mut st = s.serialize_struct("TimedLease", 10)?;
        st.serialize_field("id", &l.id)?;
        st.serialize_field("run_id", &l.run_id)?;
        st.serialize_field("safe", &l.safe)?;
        st.serialize_field("object", &l.object)?;
        st.serialize_field("account_id", &l.account_id)?;
        st.serialize_field("rotation", &l.rotation)?;
        st.serialize_field("state", &l.state)?;
        st.serialize_field("error", &l.error)?;
        st.serialize_field("created_micros", &self.created_micros)?;
        st.serialize_field("updated_micros", &self.updated_micros)?;
        st.end()
    }
}

/// Leases with `created_micros >= since`, oldest first.
pub(crate) async fn created_since(pool: &SqlitePool, since: i64) -> Result<Vec<TimedLease>> {
    let rows = sqlx::query(
        "SELECT id, run_id, safe, object, account_id, rotation, state, error, created_micros, \
         updated_micros FROM leases WHERE created_micros >= $1 ORDER BY created_micros, id",
    )
    .bind(since)
    .fetch_all(pool)
    .await
    .map_err(|source| StoreError::Query {
        what: "leases created since",
        source,
    })?;
    rows.iter()
        .map(|r| {
            let state: String = r.get("state");
            let state = state
                .parse::<LeaseState>()
                .map_err(|value| StoreError::Corrupt {
                    what: "leases.state",
                    value,
                })?;
            Ok(TimedLease {
                lease: Lease {
                    id: r.get("id"),
                    run_id: r.get("run_id"),
                    safe: r.get("safe"),
                    object: r.get("object"),
                    account_id: r.get("account_id"),
                    rotation: r.get("rotation"),
                    state,
                    error: r.get("error"),
                },
                created_micros: r.get("created_micros"),
                updated_micros: r.get("updated_micros"),
            })
        })
        .collect()
}
