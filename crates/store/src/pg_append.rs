//! Appends to the audit log in PostgreSQL, and the two writes that carry an append in their own
//! transaction: log-before-act credential issue and approvals.
//!
//! Every append goes through the SQL function `arkbridge_audit_append` (migration 0004), which
//! takes the audit log's transaction-scoped advisory lock, reads the log's size and inserts the
//! rows only if the size is what the caller built them for. The lock serialises appenders on
//! every connection, pool and replica, and is held to the end of the caller's transaction, so
//! `seq` is gapless and each batch's Merkle nodes extend exactly the stored tree: the tree is the
//! same whichever replica wrote or verifies it.
//!
//! The tree's right edge comes from this process's cache when its size matches (one round trip
//! for a batch of the group commit), else from the function's answer: when the size does not
//! match, it inserts nothing and returns the stored edge instead, so a replica that finds another
//! one appended since its last batch rebuilds and retries at the cost of one more round trip.

use arkbridge_core::audit::tree::{Frontier, NodeId, completing_leaf};
use arkbridge_core::audit::{AuditEvent, AuditRecord};
use arkbridge_core::merkle::Hash;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, Row};

use crate::audit_append::{EdgeCache, build};
use crate::pg_rows::q;
use crate::sqlite_principals::groups_json;
use crate::{ApprovalRecord, LeaseState, NewApproval, Result, StoreError};

/// What an append wrote: the records, and the tree's edge to remember once committed.
pub(crate) struct Appended {
    pub(crate) records: Vec<AuditRecord>,
    edge: Frontier,
}

impl Appended {
    /// Remembers the edge; call only after the transaction committed.
    pub(crate) fn committed(self, cache: &EdgeCache) -> Vec<AuditRecord> {
        *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.edge);
        self.records
    }
}

fn cached_edge(cache: &EdgeCache) -> Option<Frontier> {
    cache.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// What `arkbridge_audit_append` answered.
enum Answer {
    /// The rows were inserted.
    Inserted,
    /// Nothing was inserted: the log holds another number of records, whose edge this is.
    Stale(Frontier),
}

/// Calls `arkbridge_audit_append` for `records` built after a tree of `size` records. With no
/// records and a size no log has (-1), it only reads the log's edge (under the lock).
async fn call_append(
    conn: &mut PgConnection,
    size: i64,
    records: &[AuditRecord],
    rows: &[(Hash, Vec<u8>)],
) -> Result<Answer> {
    let texts: Vec<&str> = records.iter().map(|r| r.canonical.as_str()).collect();
    let leaves: Vec<&[u8]> = rows.iter().map(|(leaf, _)| &leaf[..]).collect();
    let nodes: Vec<&[u8]> = rows.iter().map(|(_, nodes)| nodes.as_slice()).collect();
    let row = sqlx::query("SELECT current_size, edge FROM arkbridge_audit_append($1, $2, $3, $4)")
        .bind(size)
        .bind(texts)
        .bind(leaves)
        .bind(nodes)
        .fetch_one(conn)
        .await
        .map_err(q("append audit"))?;
    let found: i64 = row.get("current_size");
    if found == size {
        return Ok(Answer::Inserted);
    }
    let corrupt = || StoreError::Corrupt {
        what: "audit nodes",
        value: format!("the right edge of the tree of {found} records"),
    };
    let edge: Vec<Option<Vec<u8>>> = row.get("edge");
    let roots = edge
        .into_iter()
        .map(|node| {
            node.and_then(|n| Hash::try_from(n).ok())
                .ok_or_else(corrupt)
        })
        .collect::<Result<Vec<Hash>>>()?;
    let size = u64::try_from(found).map_err(|_| corrupt())?;
    Frontier::from_roots(size, roots)
        .map(Answer::Stale)
        .ok_or_else(corrupt)
}

/// The stored hashes of `ids`, in that order.
pub(crate) async fn node_hashes_in(conn: &mut PgConnection, ids: &[NodeId]) -> Result<Vec<Hash>> {
    let seqs: Vec<i64> = ids
        .iter()
        .map(|&id| completing_leaf(id) as i64 + 1)
        .collect();
    let rows = sqlx::query("SELECT seq, leaf_hash, nodes FROM audit WHERE seq = ANY($1)")
        .bind(&seqs)
        .fetch_all(conn)
        .await
        .map_err(q("read audit nodes"))?;
    let by_seq: std::collections::HashMap<i64, (Option<Vec<u8>>, Vec<u8>)> = rows
        .iter()
        .map(|r| (r.get("seq"), (r.get("leaf_hash"), r.get("nodes"))))
        .collect();
    ids.iter()
        .zip(&seqs)
        .map(|(&id, seq)| {
            let hash = by_seq.get(seq).and_then(|(leaf, nodes)| {
                let bytes = if id.0 == 0 {
                    leaf.clone()?
                } else {
                    let at = (id.0 as usize - 1) * 32;
                    nodes.get(at..at + 32)?.to_vec()
                };
                Hash::try_from(bytes).ok()
            });
            hash.ok_or_else(|| StoreError::Corrupt {
                what: "audit nodes",
                value: format!("node ({}, {}) in record {seq} is missing", id.0, id.1),
            })
        })
        .collect()
}

/// Appends `events` after the log's head, inside a transaction on `conn`: at most two calls,
/// the second (when the cached edge was stale or missing) with the edge the first returned while
/// the lock was already held, so it cannot be stale again.
pub(crate) async fn append_in(
    conn: &mut PgConnection,
    events: Vec<AuditEvent>,
    cache: &EdgeCache,
) -> Result<Appended> {
    let (events, mut frontier) = match cached_edge(cache) {
        Some(mut frontier) => {
            let size = frontier.size() as i64;
            let (records, rows) = build(events, &mut frontier);
            match call_append(conn, size, &records, &rows).await? {
                Answer::Inserted => {
                    return Ok(Appended {
                        records,
                        edge: frontier,
                    });
                }
                Answer::Stale(edge) => (records.into_iter().map(|r| r.event).collect(), edge),
            }
        }
        None => match call_append(conn, -1, &[], &[]).await? {
            Answer::Stale(edge) => (events, edge),
            // No log has -1 records, so the size-only call never inserts.
            Answer::Inserted => {
                return Err(StoreError::Conflict(
                    "the audit log answered a size-only call as if it had inserted".into(),
                ));
            }
        },
    };
    let size = frontier.size() as i64;
    let (records, rows) = build(events, &mut frontier);
    match call_append(conn, size, &records, &rows).await? {
        Answer::Inserted => Ok(Appended {
            records,
            edge: frontier,
        }),
        Answer::Stale(edge) => Err(StoreError::Conflict(format!(
            "the audit log grew from {size} to {} records while its lock was held",
            edge.size()
        ))),
    }
}

/// Tries to append on `conn` (in no transaction) this many times, each call in its own implicit
/// transaction, before taking the lock for a whole transaction.
const OPTIMISTIC_TRIES: usize = 3;

/// Appends `events` on `conn`, a connection in no transaction (the group commit's own). Each try
/// is one round trip: built on the cached edge, or on the edge the previous try returned when
/// another replica had appended meanwhile.
pub(crate) async fn append_on(
    conn: &mut PgConnection,
    mut events: Vec<AuditEvent>,
    cache: &EdgeCache,
) -> Result<Vec<AuditRecord>> {
    let mut edge = cached_edge(cache);
    for _ in 0..OPTIMISTIC_TRIES {
        let Some(mut frontier) = edge.take() else {
            break;
        };
        let size = frontier.size() as i64;
        let (records, rows) = build(events, &mut frontier);
        match call_append(conn, size, &records, &rows).await? {
            Answer::Inserted => {
                *cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(frontier);
                return Ok(records);
            }
            Answer::Stale(current) => {
                edge = Some(current);
                events = records.into_iter().map(|r| r.event).collect();
            }
        }
    }
    *cache.lock().unwrap_or_else(|e| e.into_inner()) = edge;
    let mut tx = conn.begin().await.map_err(q("begin audit append"))?;
    let appended = append_in(&mut tx, events, cache).await?;
    tx.commit().await.map_err(q("commit audit append"))?;
    Ok(appended.committed(cache))
}

/// Appends `events` in one transaction of their own.
pub(crate) async fn append_batch(
    pool: &PgPool,
    events: Vec<AuditEvent>,
    cache: &EdgeCache,
) -> Result<Vec<AuditRecord>> {
    let mut tx = pool.begin().await.map_err(q("begin audit append"))?;
    let appended = append_in(&mut tx, events, cache).await?;
    tx.commit().await.map_err(q("commit audit append"))?;
    Ok(appended.committed(cache))
}

/// Log before act: the lease moves to `issued` and `event` is appended, in one transaction.
pub(crate) async fn issue_credential(
    pool: &PgPool,
    lease_id: i64,
    event: AuditEvent,
    cache: &EdgeCache,
) -> Result<AuditRecord> {
    let mut tx = pool.begin().await.map_err(q("begin credential issue"))?;
    let done = sqlx::query(
        "UPDATE leases SET state = $1, updated_micros = $2 WHERE id = $3 AND state = $4",
    )
    .bind(LeaseState::Issued.as_str())
    .bind(event.time_us)
    .bind(lease_id)
    .bind(LeaseState::Requested.as_str())
    .execute(&mut *tx)
    .await
    .map_err(q("mark lease issued"))?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!(
            "lease {lease_id} is not waiting for its credential; nothing was issued"
        )));
    }
    let appended = append_in(&mut tx, vec![event], cache).await?;
    tx.commit().await.map_err(q("commit credential issue"))?;
    Ok(appended.committed(cache).remove(0))
}

/// Records an approval and its audit event in one transaction.
pub(crate) async fn record_approval(
    pool: &PgPool,
    approval: &NewApproval,
    event: AuditEvent,
    cache: &EdgeCache,
) -> Result<(ApprovalRecord, AuditRecord)> {
    let mut tx = pool.begin().await.map_err(q("begin approval"))?;
    let appended = append_in(&mut tx, vec![event], cache).await?;
    let record = appended.records[0].clone();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO approvals (page_id, block, script_sha256, page_version, approver, \
         created_micros, audit_seq, approver_groups) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         RETURNING id",
    )
    .bind(&approval.page_id)
    .bind(&approval.block)
    .bind(&approval.script_sha256)
    .bind(approval.page_version)
    .bind(&approval.approver)
    .bind(approval.created_micros)
    .bind(record.seq)
    .bind(groups_json(&approval.approver_groups))
    .fetch_one(&mut *tx)
    .await
    .map_err(q("insert approval"))?;
    tx.commit().await.map_err(q("commit approval"))?;
    appended.committed(cache);
    let stored = ApprovalRecord {
        id,
        page_id: approval.page_id.clone(),
        block: approval.block.clone(),
        script_sha256: approval.script_sha256.clone(),
        page_version: approval.page_version,
        approver: approval.approver.clone(),
        approver_groups: Some(approval.approver_groups.clone()),
        created_micros: approval.created_micros,
        audit_seq: record.seq,
    };
    Ok((stored, record))
}
