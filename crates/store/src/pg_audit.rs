//! The audit log in PostgreSQL: reads, stored nodes, checkpoints and forwarding cursors. Appends
//! are in `pg_append.rs`.

use arkbridge_core::audit::tree::NodeId;
use arkbridge_core::audit::{AuditRecord, decode};
use arkbridge_core::merkle::Hash;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};

use crate::pg_append::node_hashes_in;
use crate::pg_rows::q;
use crate::{AuditFilter, NewCheckpoint, Result, StoreError, StoredCheckpoint, StoredLeaf};

/// The advisory lock key of the audit log (the one `arkbridge_audit_append` takes): checkpoints
/// are written under it too, so a checkpoint never names a size the log is still growing past.
const AUDIT_LOCK: i64 = 7_160_237_542_337_503_587;

pub(crate) async fn size(pool: &PgPool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit")
        .fetch_one(pool)
        .await
        .map_err(q("read audit size"))?;
    Ok(n as u64)
}

pub(crate) async fn node_hashes(pool: &PgPool, ids: &[NodeId]) -> Result<Vec<Hash>> {
    let mut conn = pool.acquire().await.map_err(q("read audit nodes"))?;
    node_hashes_in(&mut conn, ids).await
}

fn record_from_row(r: &PgRow) -> Result<AuditRecord> {
    let seq: i64 = r.get("seq");
    let text: String = r.get("record");
    let record = decode(&text).map_err(|e| StoreError::Corrupt {
        what: "audit record",
        value: format!("record {seq}: {e}"),
    })?;
    if record.seq != seq {
        return Err(StoreError::Corrupt {
            what: "audit record",
            value: format!("the row of record {seq} holds record {}", record.seq),
        });
    }
    Ok(record)
}

pub(crate) async fn query(
    pool: &PgPool,
    filter: &AuditFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>> {
    // Fixed fragments and placeholder numbers only; every value is bound.
    let mut sql = String::from("SELECT seq, record FROM audit WHERE seq > $1");
    let mut n = 1;
    let mut next = || {
        n += 1;
        n
    };
    if filter.user.is_some() {
        let p = next();
        sql.push_str(&format!(
            " AND (lower(subject) = lower(${p}) OR lower(actor_name) = lower(${p}))"
        ));
    }
    for (set, column) in [
        (filter.page_id.is_some(), "page_id = $"),
        (filter.safe.is_some(), "lower(safe) = lower($"),
        (filter.action.is_some(), "action = $"),
        (filter.run_id.is_some(), "run_id = $"),
        (filter.since_us.is_some(), "time_us >= $"),
        (filter.until_us.is_some(), "time_us < $"),
    ] {
        if set {
            let p = next();
            let close = if column.ends_with("($") { ")" } else { "" };
            sql.push_str(&format!(" AND {column}{p}{close}"));
        }
    }
    let p = next();
    sql.push_str(&format!(" ORDER BY seq LIMIT ${p}"));
    let mut qry = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after);
    if let Some(u) = &filter.user {
        qry = qry.bind(u.clone());
    }
    for v in [
        &filter.page_id,
        &filter.safe,
        &filter.action,
        &filter.run_id,
    ]
    .into_iter()
    .flatten()
    {
        qry = qry.bind(v.clone());
    }
    for v in [filter.since_us, filter.until_us].into_iter().flatten() {
        qry = qry.bind(v);
    }
    let rows = qry
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(q("read audit"))?;
    rows.iter().map(record_from_row).collect()
}

pub(crate) async fn leaves(pool: &PgPool, after: i64, limit: i64) -> Result<Vec<StoredLeaf>> {
    let rows = sqlx::query(
        "SELECT seq, record, leaf_hash, nodes FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(q("read audit leaves"))?;
    Ok(rows
        .iter()
        .map(|r| StoredLeaf {
            seq: r.get("seq"),
            record: r.get("record"),
            leaf_hash: r.get::<Option<Vec<u8>>, _>("leaf_hash").unwrap_or_default(),
            nodes: r.get("nodes"),
        })
        .collect())
}

pub(crate) async fn checkpoints(pool: &PgPool) -> Result<Vec<StoredCheckpoint>> {
    let rows =
        sqlx::query("SELECT id, tree_size, time_us, note FROM audit_checkpoints ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(q("read checkpoints"))?;
    rows.iter()
        .map(|r| {
            let id: i64 = r.get("id");
            let size: i64 = r.get("tree_size");
            Ok(StoredCheckpoint {
                id,
                tree_size: u64::try_from(size).map_err(|_| StoreError::Corrupt {
                    what: "audit checkpoint",
                    value: format!("checkpoint {id}: tree_size {size}"),
                })?,
                time_us: r.get("time_us"),
                note: r.get("note"),
            })
        })
        .collect()
}

pub(crate) async fn add_checkpoint(pool: &PgPool, cp: &NewCheckpoint) -> Result<StoredCheckpoint> {
    let mut tx = pool.begin().await.map_err(q("begin checkpoint"))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(q("lock the audit log"))?;
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM audit_checkpoints")
        .fetch_one(&mut *tx)
        .await
        .map_err(q("read latest checkpoint"))?;
    if latest != cp.prev_id {
        return Err(StoreError::Conflict(format!(
            "another checkpoint was written meanwhile (latest is {latest:?}, expected {:?})",
            cp.prev_id
        )));
    }
    let size: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit")
        .fetch_one(&mut *tx)
        .await
        .map_err(q("read audit size"))?;
    if cp.tree_size > size as u64 {
        return Err(StoreError::Conflict(format!(
            "a checkpoint over {} records, but the log holds {size}",
            cp.tree_size
        )));
    }
    let id = latest.unwrap_or(0) + 1;
    sqlx::query(
        "INSERT INTO audit_checkpoints (id, tree_size, time_us, note) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(cp.tree_size as i64)
    .bind(cp.time_us)
    .bind(&cp.note)
    .execute(&mut *tx)
    .await
    .map_err(q("insert checkpoint"))?;
    tx.commit().await.map_err(q("commit checkpoint"))?;
    Ok(StoredCheckpoint {
        id,
        tree_size: cp.tree_size,
        time_us: cp.time_us,
        note: cp.note.clone(),
    })
}

pub(crate) async fn cursor(pool: &PgPool, name: &str) -> Result<i64> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_cursors WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(q("read audit cursor"))?;
    Ok(seq.unwrap_or(0))
}

pub(crate) async fn set_cursor(pool: &PgPool, name: &str, seq: i64, now_us: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_cursors (name, seq, updated_us) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, updated_us = excluded.updated_us",
    )
    .bind(name)
    .bind(seq)
    .bind(now_us)
    .execute(pool)
    .await
    .map_err(q("move audit cursor"))?;
    Ok(())
}
