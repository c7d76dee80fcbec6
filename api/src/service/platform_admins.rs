//! Platform admins: the principals allowed to manage tenants. Our own tokens
//! name them by subject (issuer `""`); an identity provider's by its `iss`
//! and subject, so this table is also the allow-list for provider tokens.
//! Every function here runs in a platform transaction.

use chrono::{DateTime, FixedOffset};
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// One platform admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformAdmin {
    pub id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub name: Option<String>,
    pub active: bool,
    /// Tokens issued before this are refused (`None`: never revoked).
    pub tokens_valid_after: Option<DateTime<FixedOffset>>,
}

const COLUMNS: &str = "id, issuer, subject, name, status, \
     CASE WHEN isfinite(tokens_valid_after) THEN tokens_valid_after END AS tokens_valid_after";

fn from_row(row: &QueryResult) -> AppResult<PlatformAdmin> {
    Ok(PlatformAdmin {
        id: row.try_get("", "id")?,
        issuer: row.try_get("", "issuer")?,
        subject: row.try_get("", "subject")?,
        name: row.try_get("", "name")?,
        active: row.try_get::<String>("", "status")? == "active",
        tokens_valid_after: row.try_get("", "tokens_valid_after")?,
    })
}

/// Adds a platform admin; an existing `(issuer, subject)` is a conflict.
pub async fn add(
    db: &impl ConnectionTrait,
    issuer: &str,
    subject: &str,
    name: Option<&str>,
) -> AppResult<PlatformAdmin> {
    let subject = subject.trim();
    if subject.is_empty() || subject.len() > 255 {
        return Err(AppError::bad_input(
            "subject",
            "the subject must be 1 to 255 characters",
        ));
    }
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "INSERT INTO screenplay.platform_admins (issuer, subject, name) VALUES ($1, $2, $3) \
                 ON CONFLICT (issuer, subject) DO NOTHING RETURNING {COLUMNS}"
            ),
            [issuer.into(), subject.into(), name.map(str::to_owned).into()],
        ))
        .await?
        .ok_or_else(|| AppError::conflict(format!("platform admin `{subject}` already exists")))?;
    from_row(&row)
}

/// Adds a platform admin unless it exists (used for the local demo admin).
pub async fn ensure(db: &impl ConnectionTrait, subject: &str, name: &str) -> AppResult<()> {
    match add(db, "", subject, Some(name)).await {
        Ok(_) | Err(AppError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every platform admin, by issuer and subject.
pub async fn list(db: &impl ConnectionTrait) -> AppResult<Vec<PlatformAdmin>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT {COLUMNS} FROM screenplay.platform_admins ORDER BY issuer, subject"),
        ))
        .await?;
    rows.iter().map(from_row).collect()
}

/// What [`change`] does to an admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Enable,
    /// Refused from the next operation on, its tokens included.
    Disable,
    /// Every token issued until now stops working.
    RevokeTokens,
    Remove,
}

/// Applies `change` to the admin `(issuer, subject)`.
pub async fn change(db: &impl ConnectionTrait, issuer: &str, subject: &str, change: Change) -> AppResult<()> {
    let set = match change {
        Change::Enable => "UPDATE screenplay.platform_admins SET status = 'active', updated_at = now()",
        Change::Disable => "UPDATE screenplay.platform_admins SET status = 'disabled', updated_at = now()",
        Change::RevokeTokens => "UPDATE screenplay.platform_admins SET tokens_valid_after = now(), updated_at = now()",
        Change::Remove => "DELETE FROM screenplay.platform_admins",
    };
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("{set} WHERE issuer = $1 AND subject = $2"),
            [issuer.into(), subject.into()],
        ))
        .await?;
    match done.rows_affected() {
        0 => Err(AppError::not_found("platform admin")),
        _ => Ok(()),
    }
}
