//! Fragments: every version is a row; the latest has the highest number.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::fragment::Fragment;

use super::codec::*;
use crate::{Result, StoreError};

const COLUMNS: &str = "sandbox, id, version, name, description, content, created_at, updated_at";

fn from_row(r: &SqliteRow) -> Result<Fragment> {
    Ok(Fragment {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        version: r.try_get("version")?,
        content: r.try_get("content")?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

/// Inserts a version; [`StoreError::Conflict`] when that number exists
/// (a concurrent update got there first).
pub async fn insert_version(conn: &mut SqliteConnection, f: &Fragment) -> Result<()> {
    let done = sqlx::query(&format!(
        "INSERT INTO fragment_versions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (sandbox, id, version) DO NOTHING"
    ))
    .bind(&f.sandbox)
    .bind(&f.id)
    .bind(f.version)
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.content)
    .bind(ms(f.created_at))
    .bind(ms(f.updated_at))
    .execute(conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

/// A version of a fragment; the latest when `version` is `None`.
pub async fn get(
    pool: &SqlitePool,
    sandbox: &str,
    id: &str,
    version: Option<i64>,
) -> Result<Option<Fragment>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM fragment_versions WHERE sandbox = ?1 AND id = ?2
           AND (?3 IS NULL OR version = ?3)
         ORDER BY version DESC LIMIT 1"
    ))
    .bind(sandbox)
    .bind(id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The latest version of every fragment of the sandbox.
pub async fn list(pool: &SqlitePool, sandbox: &str) -> Result<Vec<Fragment>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM fragment_versions f WHERE sandbox = ?1
           AND version = (SELECT max(version) FROM fragment_versions g WHERE g.sandbox = f.sandbox AND g.id = f.id)
         ORDER BY id"
    ))
    .bind(sandbox)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes every version; false when there was none.
pub async fn delete(conn: &mut SqliteConnection, sandbox: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM fragment_versions WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
