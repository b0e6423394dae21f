//! The `safe_member_snapshots` table: the last listing of each safe's members.

use sqlx::Row;
use sqlx::sqlite::SqlitePool;

use crate::Result;
use crate::q;

pub(crate) async fn save(pool: &SqlitePool, safe: &str, members: &str, at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO safe_member_snapshots (safe, members, read_micros) VALUES ($1, $2, $3) \
         ON CONFLICT(safe) DO UPDATE SET members = excluded.members, \
         read_micros = excluded.read_micros WHERE excluded.read_micros >= read_micros",
    )
    .bind(safe.to_lowercase())
    .bind(members)
    .bind(at)
    .execute(pool)
    .await
    .map_err(q("save safe members"))?;
    Ok(())
}

pub(crate) async fn load(pool: &SqlitePool, safe: &str) -> Result<Option<(String, i64)>> {
    Ok(
        sqlx::query("SELECT members, read_micros FROM safe_member_snapshots WHERE safe = $1")
            .bind(safe.to_lowercase())
            .fetch_optional(pool)
            .await
            .map_err(q("read safe members"))?
            .map(|r| (r.get("members"), r.get("read_micros"))),
    )
}
