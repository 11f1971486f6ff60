//! Profiles, their identities and the custom identity namespaces.
//!
//! A profile is found by any of its identities; an identity belongs to one
//! profile at most. Writes never move an identity from one profile to
//! another: merging two people is an explicit operation, never a side
//! effect of an upsert or an import.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::identity::{IdentityKind, IdentityNamespace};
use herald_domain::ids::new_id;
use herald_domain::import::ImportRow;
use herald_domain::json::merge_patch;
use herald_domain::profile::{Identity, Profile, ProfileOrigin};

use super::codec::*;
use crate::profiles::{ImportBatchResult, ProfileFilter, ProfilePage, ProfilePut};
use crate::types::ProfileUpsert;
use crate::{Result, StoreError};

/// Bound parameters per statement. Small on purpose: sqlx looks each
/// parameter's name up with `sqlite3_bind_parameter_name`, a linear scan,
/// so binding is quadratic in the parameters of one statement (with 8,000,
/// that lookup was 59 % of the import's CPU).
const MAX_PARAMS: usize = 400;

// --- identity namespaces

pub async fn insert_namespace(conn: &mut SqliteConnection, ns: &IdentityNamespace) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO identity_namespaces (sandbox, code, name, kind, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
    )
    .bind(&ns.sandbox)
    .bind(&ns.code)
    .bind(&ns.name)
    .bind(ns.kind.as_str())
    .bind(ms(ns.created_at.unwrap_or_else(Utc::now)))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn namespace_from_row(sandbox: &str, r: &sqlx::sqlite::SqliteRow) -> Result<IdentityNamespace> {
    let kind: String = r.try_get("kind")?;
    Ok(IdentityNamespace {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind: IdentityKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown identity kind '{kind}'")))?,
        standard: false,
        sandbox: sandbox.to_string(),
        created_at: Some(time(r.try_get("created_at")?)?),
    })
}

pub async fn list_namespaces(pool: &SqlitePool, sandbox: &str) -> Result<Vec<IdentityNamespace>> {
    sqlx::query(
        "SELECT code, name, kind, created_at FROM identity_namespaces WHERE sandbox = ?1 ORDER BY code",
    )
    .bind(sandbox)
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| namespace_from_row(sandbox, r))
    .collect()
}

pub async fn get_namespace(
    pool: &SqlitePool,
    sandbox: &str,
    code: &str,
) -> Result<Option<IdentityNamespace>> {
    sqlx::query(
        "SELECT code, name, kind, created_at FROM identity_namespaces WHERE sandbox = ?1 AND code = ?2",
    )
    .bind(sandbox)
    .bind(code)
    .fetch_optional(pool)
    .await?
    .map(|r| namespace_from_row(sandbox, &r))
    .transpose()
}

// --- profiles

pub async fn load_profile(
    conn: &mut SqliteConnection,
    sandbox: &str,
    id: &str,
) -> Result<Option<Profile>> {
    let row = sqlx::query("SELECT attributes, created_by, created_at, updated_at FROM profiles WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let identities = sqlx::query("SELECT namespace, value FROM identities WHERE sandbox = ?1 AND profile_id = ?2 ORDER BY namespace, value")
        .bind(sandbox)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|i| Ok(Identity { namespace: i.try_get("namespace")?, id: i.try_get("value")? }))
        .collect::<Result<Vec<_>>>()?;
    let created_by: Option<String> = r.try_get("created_by")?;
    Ok(Some(Profile {
        id: id.to_string(),
        sandbox: sandbox.to_string(),
        identities,
        attributes: from_json(&r.try_get::<String, _>("attributes")?)?,
        created_by: created_by
            .map(|c| from_json::<ProfileOrigin>(&c))
            .transpose()?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    }))
}

pub async fn find_profiles(
    pool: &SqlitePool,
    sandbox: &str,
    namespace: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Profile>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    // A unitary call has at most 20 recipients: one IN query, then the
    // profiles themselves.
    let placeholders = (0..ids.len())
        .map(|i| format!("?{}", i + 3))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT value, profile_id FROM identities WHERE sandbox = ?1 AND namespace = ?2 AND value IN ({placeholders})"
    );
    let mut q = sqlx::query(&sql).bind(sandbox).bind(namespace);
    for id in ids {
        q = q.bind(id);
    }
    let mut conn = pool.acquire().await?;
    let rows = q.fetch_all(&mut *conn).await?;
    for r in rows {
        let value: String = r.try_get("value")?;
        let profile_id: String = r.try_get("profile_id")?;
        if let Some(p) = load_profile(&mut conn, sandbox, &profile_id).await? {
            out.insert(value, p);
        }
    }
    Ok(out)
}

async fn owner(
    conn: &mut SqliteConnection,
    sandbox: &str,
    identity: &Identity,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT profile_id FROM identities WHERE sandbox = ?1 AND namespace = ?2 AND value = ?3",
    )
    .bind(sandbox)
    .bind(&identity.namespace)
    .bind(&identity.id)
    .fetch_optional(conn)
    .await?)
}

pub async fn put_profile(
    conn: &mut SqliteConnection,
    sandbox: &str,
    u: ProfileUpsert,
) -> Result<ProfilePut> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let main = owner(&mut tx, sandbox, &u.identity).await?;
    let mut extra = Vec::with_capacity(u.extra_identities.len());
    for identity in &u.extra_identities {
        extra.push(owner(&mut tx, sandbox, identity).await?);
    }
    // The profile is the path identity's, or else the first extra
    // identity's that has one.
    let target = main.or_else(|| extra.iter().flatten().next().cloned());
    if let Some(t) = &target
        && let Some((index, other)) = extra
            .iter()
            .enumerate()
            .find_map(|(i, o)| o.as_ref().filter(|o| *o != t).map(|o| (i, o)))
    {
        return Ok(ProfilePut::IdentityTaken {
            index,
            profile_id: other.clone(),
        });
    }
    let created = target.is_none();
    let profile_id = target.unwrap_or_else(|| u.new_id.clone());
    let mut attributes = if created {
        Value::Object(Default::default())
    } else {
        let a: String =
            sqlx::query_scalar("SELECT attributes FROM profiles WHERE sandbox = ?1 AND id = ?2")
                .bind(sandbox)
                .bind(&profile_id)
                .fetch_one(&mut *tx)
                .await?;
        from_json(&a)?
    };
    merge_patch(&mut attributes, &u.attributes_patch);
    if !attributes.is_object() {
        attributes = Value::Object(Default::default());
    }
    sqlx::query(
        "INSERT INTO profiles (sandbox, id, attributes, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (sandbox, id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at",
    )
    .bind(sandbox)
    .bind(&profile_id)
    .bind(to_json(&attributes)?)
    .bind(u.origin.as_ref().map(to_json).transpose()?)
    .bind(ms(u.now))
    .execute(&mut *tx)
    .await?;
    for identity in std::iter::once(&u.identity).chain(u.extra_identities.iter()) {
        sqlx::query(
            "INSERT INTO identities (sandbox, namespace, value, profile_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )
        .bind(sandbox)
        .bind(&identity.namespace)
        .bind(&identity.id)
        .bind(&profile_id)
        .execute(&mut *tx)
        .await?;
    }
    let profile = load_profile(&mut tx, sandbox, &profile_id).await?;
    tx.commit().await?;
    let profile =
        profile.ok_or_else(|| StoreError::Corrupt("profile vanished after upsert".into()))?;
    Ok(ProfilePut::Written { profile, created })
}

/// The end of the range of strings starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

pub async fn list_profiles(
    pool: &SqlitePool,
    sandbox: &str,
    f: &ProfileFilter,
) -> Result<ProfilePage> {
    let after = f.after.clone().unwrap_or_default();
    let (low, high) = match &f.prefix {
        Some(p) => (p.clone(), prefix_end(p)),
        None => (String::new(), prefix_end("")),
    };
    let limit = f.limit as i64;
    let mut conn = pool.acquire().await?;
    // (cursor, profile id)
    let keys: Vec<(String, String)> = if let Some(ns) = &f.namespace {
        sqlx::query(
            "SELECT value, profile_id FROM identities
             WHERE sandbox = ?1 AND namespace = ?2 AND value > ?3 AND value >= ?4 AND value < ?5
             ORDER BY value LIMIT ?6",
        )
        .bind(sandbox)
        .bind(ns)
        .bind(&after)
        .bind(&low)
        .bind(&high)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("value")?, r.try_get("profile_id")?)))
        .collect::<Result<_>>()?
    } else if f.prefix.is_some() {
        sqlx::query(
            "SELECT DISTINCT profile_id FROM identities
             WHERE sandbox = ?1 AND value >= ?2 AND value < ?3 AND profile_id > ?4
             ORDER BY profile_id LIMIT ?5",
        )
        .bind(sandbox)
        .bind(&low)
        .bind(&high)
        .bind(&after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let id: String = r.try_get("profile_id")?;
            Ok((id.clone(), id))
        })
        .collect::<Result<_>>()?
    } else {
        sqlx::query("SELECT id FROM profiles WHERE sandbox = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
            .bind(sandbox)
            .bind(&after)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok((id.clone(), id))
            })
            .collect::<Result<_>>()?
    };
    let mut page = ProfilePage::default();
    for (cursor, id) in keys {
        if let Some(p) = load_profile(&mut conn, sandbox, &id).await? {
            page.items.push((cursor, p));
        }
    }
    Ok(page)
}

pub async fn delete_profile(
    conn: &mut SqliteConnection,
    sandbox: &str,
    identity: &Identity,
) -> Result<bool> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let Some(profile_id) = owner(&mut tx, sandbox, identity).await? else {
        return Ok(false);
    };
    // Its messages stay (status, ids, times, attempts: the reports count
    // them) without anything that says who they were for or what they said.
    sqlx::query(
        "UPDATE message_events SET detail = NULL
         WHERE message_id IN (SELECT id FROM messages WHERE sandbox = ?1 AND profile_id = ?2)",
    )
    .bind(sandbox)
    .bind(&profile_id)
    .execute(&mut *tx)
    .await?;
    // Not sent yet: it never will be (there is no address any more).
    sqlx::query(
        "UPDATE messages SET status = 'excluded', exclusion_reason = 'profileDeleted'
         WHERE sandbox = ?1 AND profile_id = ?2 AND status = 'queued'",
    )
    .bind(sandbox)
    .bind(&profile_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE messages SET address = NULL, user_id = '[deleted]', profile = '{}', context = '{}',
                rendered = NULL, last_error = NULL
         WHERE sandbox = ?1 AND profile_id = ?2",
    )
    .bind(sandbox)
    .bind(&profile_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM identities WHERE sandbox = ?1 AND profile_id = ?2")
        .bind(sandbox)
        .bind(&profile_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM profiles WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(&profile_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// A profile touched by an import batch.
struct Touched {
    attributes: Value,
}

pub async fn import_profiles(
    conn: &mut SqliteConnection,
    sandbox: &str,
    rows: Vec<ImportRow>,
    now: DateTime<Utc>,
) -> Result<ImportBatchResult> {
    let mut result = ImportBatchResult::default();
    if rows.is_empty() {
        return Ok(result);
    }
    let mut tx = sqlx::Connection::begin(conn).await?;

    // 1. Who owns the batch's identities now: one IN query per namespace
    // (and per MAX_PARAMS values).
    let mut by_namespace: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &rows {
        for i in &r.identities {
            by_namespace.entry(&i.namespace).or_default().push(&i.id);
        }
    }
    let mut owners: HashMap<(String, String), String> = HashMap::new();
    for (ns, values) in &by_namespace {
        for chunk in values.chunks(MAX_PARAMS) {
            let placeholders = (0..chunk.len())
                .map(|i| format!("?{}", i + 3))
                .collect::<Vec<_>>()
                .join(",");
            let sql = format!(
                "SELECT value, profile_id FROM identities WHERE sandbox = ?1 AND namespace = ?2 AND value IN ({placeholders})"
            );
            let mut q = sqlx::query(&sql).bind(sandbox).bind(*ns);
            for v in chunk {
                q = q.bind(*v);
            }
            for r in q.fetch_all(&mut *tx).await? {
                owners.insert(
                    (ns.to_string(), r.try_get("value")?),
                    r.try_get("profile_id")?,
                );
            }
        }
    }

    // 2. The stored attributes of the profiles found.
    let mut touched: HashMap<String, Touched> = HashMap::new();
    let mut existing: Vec<&String> = owners.values().collect();
    existing.sort();
    existing.dedup();
    for chunk in existing.chunks(MAX_PARAMS) {
        let placeholders = (0..chunk.len())
            .map(|i| format!("?{}", i + 2))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT id, attributes FROM profiles WHERE sandbox = ?1 AND id IN ({placeholders})"
        );
        let mut q = sqlx::query(&sql).bind(sandbox);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *tx).await? {
            touched.insert(
                r.try_get("id")?,
                Touched {
                    attributes: from_json(&r.try_get::<String, _>("attributes")?)?,
                },
            );
        }
    }

    // 3. Row by row, in file order (a later row sees what an earlier one
    // created), in memory.
    let mut new_identities: Vec<(String, String, String)> = Vec::new();
    // The profiles to write, in first-touched order.
    let mut order: Vec<String> = Vec::new();
    let mut in_order: HashSet<String> = HashSet::new();
    for row in rows {
        let found: Vec<Option<String>> = row
            .identities
            .iter()
            .map(|i| owners.get(&(i.namespace.clone(), i.id.clone())).cloned())
            .collect();
        let target = found.iter().flatten().next().cloned();
        if let Some(t) = &target
            && let Some(i) = found
                .iter()
                .position(|o| o.as_ref().is_some_and(|o| o != t))
        {
            let ident = &row.identities[i];
            result.rejected.push((
                row.line,
                format!(
                    "{}: '{}' belongs to another profile than the row's other identities",
                    ident.namespace, ident.id
                ),
            ));
            continue;
        }
        let profile_id = match target {
            Some(t) => {
                result.updated += 1;
                t
            }
            None => {
                result.created += 1;
                let id = new_id();
                touched.insert(
                    id.clone(),
                    Touched {
                        attributes: Value::Object(Default::default()),
                    },
                );
                id
            }
        };
        let entry = touched.get_mut(&profile_id).ok_or_else(|| {
            StoreError::Corrupt(format!("identity of missing profile {profile_id}"))
        })?;
        if in_order.insert(profile_id.clone()) {
            order.push(profile_id.clone());
        }
        merge_patch(&mut entry.attributes, &row.attributes);
        if !entry.attributes.is_object() {
            entry.attributes = Value::Object(Default::default());
        }
        for (ident, owned) in row.identities.into_iter().zip(found.iter()) {
            if owned.is_none() {
                let key = (ident.namespace, ident.id);
                if let std::collections::hash_map::Entry::Vacant(slot) = owners.entry(key) {
                    new_identities.push((
                        slot.key().0.clone(),
                        slot.key().1.clone(),
                        profile_id.clone(),
                    ));
                    slot.insert(profile_id.clone());
                }
            }
        }
    }

    // 4. Set-based writes.
    let at = ms(now);
    for chunk in order.chunks(MAX_PARAMS / 4) {
        let values = (0..chunk.len())
            .map(|i| format!("(?1, ?{}, ?{}, ?2, ?2)", 3 + 2 * i, 4 + 2 * i))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "INSERT INTO profiles (sandbox, id, attributes, created_at, updated_at) VALUES {values}
             ON CONFLICT (sandbox, id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at"
        );
        let mut q = sqlx::query(&sql).bind(sandbox).bind(at);
        for id in chunk {
            let t = &touched[id];
            q = q.bind(id).bind(to_json(&t.attributes)?);
        }
        q.execute(&mut *tx).await?;
    }
    for chunk in new_identities.chunks(MAX_PARAMS / 4) {
        let values = (0..chunk.len())
            .map(|i| format!("(?1, ?{}, ?{}, ?{})", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "INSERT INTO identities (sandbox, namespace, value, profile_id) VALUES {values} ON CONFLICT DO NOTHING"
        );
        let mut q = sqlx::query(&sql).bind(sandbox);
        for (ns, v, p) in chunk {
            q = q.bind(ns).bind(v).bind(p);
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(result)
}
