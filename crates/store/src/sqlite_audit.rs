//! The audit log in SQLite: reads, stored nodes, checkpoints and forwarding cursors. Appends
//! are in `audit_append.rs` (re-exported here for the store's other modules).

use arkbridge_core::audit::tree::{NodeId, completing_leaf};
use arkbridge_core::audit::{AuditRecord, decode};
use arkbridge_core::merkle::Hash;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection, SqlitePool};

use crate::q;
use crate::{AuditFilter, NewCheckpoint, Result, StoreError, StoredCheckpoint, StoredLeaf};

pub(crate) use crate::audit_append::{append_batch, append_in, begin_append, issue_credential};

/// A column that must have its declared type; anything else (a row edited by hand) is reported
/// as corrupt, never a panic.
fn col<'r, T>(r: &'r SqliteRow, name: &str, seq: i64) -> Result<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    r.try_get(name).map_err(|_| StoreError::Corrupt {
        what: "audit row",
        value: format!("row {seq}: column {name} does not hold what it should"),
    })
}

/// A column's bytes whatever its storage class (a verifier judges the content, not the type);
/// empty when it holds none. `text` says which class the schema declares, so that the common
/// case is decoded first (a failed decode builds an error, which is slow in a long scan).
fn raw_bytes(r: &SqliteRow, name: &str, text: bool) -> Vec<u8> {
    let as_text = || {
        r.try_get::<Option<String>, _>(name)
            .ok()
            .flatten()
            .map(String::into_bytes)
    };
    let as_blob = || r.try_get::<Option<Vec<u8>>, _>(name).ok().flatten();
    let found = if text {
        as_text().or_else(as_blob)
    } else {
        as_blob().or_else(as_text)
    };
    found.unwrap_or_default()
}

/// The number of records (the highest seq; seqs have no gaps in an intact log).
pub(crate) async fn size_in(conn: &mut SqliteConnection) -> Result<u64> {
    let n: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM audit")
        .fetch_one(conn)
        .await
        .map_err(q("read audit size"))?
        .get("n");
    Ok(n as u64)
}

/// The stored hash of node `id` from its row's `leaf_hash` and `nodes` columns.
fn node_from_row(id: NodeId, leaf_hash: Option<Vec<u8>>, nodes: &[u8]) -> Option<Hash> {
    let bytes = if id.0 == 0 {
        leaf_hash?
    } else {
        let at = (id.0 as usize - 1) * 32;
        nodes.get(at..at + 32)?.to_vec()
    };
    bytes.try_into().ok()
}

pub(crate) async fn node_hashes_in(
    conn: &mut SqliteConnection,
    ids: &[NodeId],
) -> Result<Vec<Hash>> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let seq = completing_leaf(id) as i64 + 1;
        let row = sqlx::query("SELECT leaf_hash, nodes FROM audit WHERE seq = $1")
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await
            .map_err(q("read audit node"))?;
        let hash = row.and_then(|r| {
            let leaf = Some(raw_bytes(&r, "leaf_hash", false)).filter(|l| !l.is_empty());
            node_from_row(id, leaf, &raw_bytes(&r, "nodes", false))
        });
        out.push(hash.ok_or_else(|| StoreError::Corrupt {
            what: "audit nodes",
            value: format!("node ({}, {}) in record {seq} is missing", id.0, id.1),
        })?);
    }
    Ok(out)
}

pub(crate) async fn node_hashes(pool: &SqlitePool, ids: &[NodeId]) -> Result<Vec<Hash>> {
    let mut conn = pool.acquire().await.map_err(q("read audit nodes"))?;
    node_hashes_in(&mut conn, ids).await
}

pub(crate) async fn size(pool: &SqlitePool) -> Result<u64> {
    let mut conn = pool.acquire().await.map_err(q("read audit size"))?;
    size_in(&mut conn).await
}

fn record_from_row(r: &SqliteRow) -> Result<AuditRecord> {
    let seq: i64 = r.get("seq");
    let text: String = col(r, "record", seq)?;
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

pub(crate) async fn records(pool: &SqlitePool, after: i64, limit: i64) -> Result<Vec<AuditRecord>> {
    query(pool, &AuditFilter::default(), after, limit).await
}

pub(crate) async fn query(
    pool: &SqlitePool,
    filter: &AuditFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>> {
    // Fixed fragments only; every value is bound.
    let mut sql = String::from("SELECT seq, record FROM audit WHERE seq > ?");
    if filter.user.is_some() {
        sql.push_str(" AND (subject = ? COLLATE NOCASE OR actor_name = ? COLLATE NOCASE)");
    }
    for (set, clause) in [
        (filter.page_id.is_some(), " AND page_id = ?"),
        (filter.safe.is_some(), " AND safe = ? COLLATE NOCASE"),
        (filter.action.is_some(), " AND action = ?"),
        (filter.run_id.is_some(), " AND run_id = ?"),
        (filter.since_us.is_some(), " AND time_us >= ?"),
        (filter.until_us.is_some(), " AND time_us < ?"),
    ] {
        if set {
            sql.push_str(clause);
        }
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    let mut qry = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after);
    if let Some(u) = &filter.user {
        qry = qry.bind(u.clone()).bind(u.clone());
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

pub(crate) async fn leaves(pool: &SqlitePool, after: i64, limit: i64) -> Result<Vec<StoredLeaf>> {
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
            // Invalid UTF-8 cannot be the record that was hashed; the lossy text fails its hash.
            record: match r.try_get::<String, _>("record") {
                Ok(text) => text,
                Err(_) => String::from_utf8_lossy(&raw_bytes(r, "record", true)).into_owned(),
            },
            leaf_hash: raw_bytes(r, "leaf_hash", false),
            nodes: raw_bytes(r, "nodes", false),
        })
        .collect())
}

fn checkpoint_from_row(r: &SqliteRow) -> Result<StoredCheckpoint> {
    let id: i64 = r.get("id");
    let corrupt = |column: &str| StoreError::Corrupt {
        what: "audit checkpoint",
        value: format!("checkpoint {id}: column {column} does not hold what it should"),
    };
    Ok(StoredCheckpoint {
        id,
        tree_size: r
            .try_get::<i64, _>("tree_size")
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| corrupt("tree_size"))?,
        time_us: r.try_get("time_us").map_err(|_| corrupt("time_us"))?,
        note: r.try_get("note").map_err(|_| corrupt("note"))?,
    })
}

pub(crate) async fn checkpoints(pool: &SqlitePool) -> Result<Vec<StoredCheckpoint>> {
    let rows =
        sqlx::query("SELECT id, tree_size, time_us, note FROM audit_checkpoints ORDER BY id")
            .fetch_all(pool)
            .await
            .map_err(q("read checkpoints"))?;
    rows.iter().map(checkpoint_from_row).collect()
}

pub(crate) async fn add_checkpoint(
    pool: &SqlitePool,
    cp: &NewCheckpoint,
) -> Result<StoredCheckpoint> {
    let mut tx = begin_append(pool).await?;
    let latest: Option<i64> = sqlx::query("SELECT MAX(id) AS id FROM audit_checkpoints")
        .fetch_one(&mut *tx)
        .await
        .map_err(q("read latest checkpoint"))?
        .get("id");
    if latest != cp.prev_id {
        return Err(StoreError::Conflict(format!(
            "another checkpoint was written meanwhile (latest is {latest:?}, expected {:?})",
            cp.prev_id
        )));
    }
    let size = size_in(&mut tx).await?;
    if cp.tree_size > size {
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

pub(crate) async fn cursor(pool: &SqlitePool, name: &str) -> Result<i64> {
    let row = sqlx::query("SELECT seq FROM audit_cursors WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(q("read audit cursor"))?;
    match row {
        None => Ok(0),
        Some(r) => r.try_get("seq").map_err(|_| StoreError::Corrupt {
            what: "audit cursor",
            value: name.to_string(),
        }),
    }
}

pub(crate) async fn set_cursor(pool: &SqlitePool, name: &str, seq: i64, now_us: i64) -> Result<()> {
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
