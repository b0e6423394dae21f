//! The Rust half of migration 0004: version-1 audit rows, which SQL copied over as
//! `{"legacy_v1": {...}}`, are rewritten into the current schema (keeping every original field
//! and both chain hashes) and get their leaf hash and Merkle nodes, which SQL cannot compute.
//!
//! It runs at every open and does nothing once no row lacks a leaf hash. It never drops or
//! reorders a record: a gap in the old sequence (a deleted record) stops the store from opening
//! with a message naming it, and a broken old chain is migrated as it is, for `audit verify` to
//! report.

use arkbridge_core::audit::LegacyChain;
use arkbridge_core::audit::legacy::LegacyV1;
use arkbridge_core::audit::tree::Frontier;
use sqlx::{Row, SqlitePool};

use crate::q;
use crate::sqlite_audit::{begin_append, node_hashes_in};
use crate::{Result, StoreError};

#[derive(serde::Deserialize)]
struct Wrapped {
    legacy_v1: LegacyV1,
}

/// Finishes migrating version-1 records, if any are left. Returns how many were migrated.
pub(crate) async fn finish_v1_migration(pool: &SqlitePool) -> Result<usize> {
    // Version-1 rows are the oldest and are migrated in one transaction, so the first row tells
    // whether any is left; this keeps opening a large log cheap.
    let first = sqlx::query("SELECT leaf_hash IS NULL AS pending FROM audit ORDER BY seq LIMIT 1")
        .fetch_optional(pool)
        .await
        .map_err(q("read the first audit row"))?;
    if !first.is_some_and(|r| r.get::<bool, _>("pending")) {
        return Ok(0);
    }
    let mut tx = begin_append(pool).await?;
    let rows = sqlx::query("SELECT seq, record FROM audit WHERE leaf_hash IS NULL ORDER BY seq")
        .fetch_all(&mut *tx)
        .await
        .map_err(q("read version-1 audit rows"))?;
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let first: i64 = first.get("seq");
    let size = (first - 1) as u64;
    let roots = node_hashes_in(&mut tx, &Frontier::positions(size)).await?;
    let mut frontier = Frontier::from_roots(size, roots).ok_or_else(|| StoreError::Corrupt {
        what: "audit nodes",
        value: format!("the right edge of the tree of {size} records"),
    })?;
    let mut chain = LegacyChain::default();
    let mut chain_ok = true;
    for (i, row) in rows.iter().enumerate() {
        let seq: i64 = row.get("seq");
        if seq != first + i as i64 {
            return Err(StoreError::Corrupt {
                what: "version-1 audit log",
                value: format!(
                    "record {} is missing (deleted?), so the log cannot be migrated; check it \
                     with the previous arkbridge version's `audit verify`",
                    first + i as i64
                ),
            });
        }
        let text: String = row.try_get("record").map_err(|_| StoreError::Corrupt {
            what: "version-1 audit record",
            value: format!("record {seq} is not text"),
        })?;
        let legacy = serde_json::from_str::<Wrapped>(&text)
            .map_err(|e| StoreError::Corrupt {
                what: "version-1 audit record",
                value: format!("record {seq}: {e}"),
            })?
            .legacy_v1;
        if chain_ok && let Err(e) = chain.push(seq, &legacy) {
            tracing::warn!(error = %e, "the version-1 audit chain is broken; migrating it as it is");
            chain_ok = false;
        }
        let record = legacy.migrate(seq);
        let leaf = record.leaf_hash();
        let nodes = frontier.push(leaf).concat();
        sqlx::query("UPDATE audit SET record = $1, leaf_hash = $2, nodes = $3 WHERE seq = $4")
            .bind(&record.canonical)
            .bind(&leaf[..])
            .bind(nodes)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(q("migrate version-1 audit row"))?;
    }
    tx.commit()
        .await
        .map_err(q("commit version-1 audit migration"))?;
    tracing::info!(
        records = rows.len(),
        "migrated the version-1 audit chain into the Merkle log"
    );
    Ok(rows.len())
}
