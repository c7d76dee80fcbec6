//! Screenplay sessions: created and edited by people (members, tenant
//! admins), worked on by agents, read by everyone in the tenant.
//!
//! Concurrency: `version` is an optimistic lock over the session's own fields
//! (a stale `version` is a `CONFLICT`). Work on a session takes a row lock on
//! it first: outline changes and step status changes `FOR NO KEY UPDATE`
//! (they re-derive the status, so they run one at a time per session),
//! fragment and retrieval writes `FOR SHARE` (many at once, but never while
//! the session is being cancelled). A cancelled session refuses further
//! writes with `CONFLICT`.

use chrono::{DateTime, Utc};
use entity::{
    enums::{SessionStatus, StepStatus},
    outline_steps, screenplay_sessions as sessions,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement, TransactionSession, TransactionTrait, sea_query::LockType,
};
use uuid::Uuid;

use super::{
    page::{self, Page, PageResult},
    session_status::{self, StepCounts},
    workspaces,
};
use crate::domain::validate;
use crate::{
    auth::TenantCaller,
    db::TenantOwned,
    error::{AppError, AppResult},
};

/// Longest title, logline, genre; largest config (serialized bytes).
pub const MAX_TITLE: usize = 300;
pub const MAX_LOGLINE: usize = 2000;
pub const MAX_GENRE: usize = 100;
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

pub struct NewSession {
    pub workspace_id: Uuid,
    pub title: String,
    pub logline: Option<String>,
    pub genre: Option<String>,
    /// BCP 47 tag; `en` when absent.
    pub language: Option<String>,
    pub config: Option<serde_json::Value>,
}

/// Changes to a session's own fields; `version` is the one the client read.
pub struct SessionChange {
    pub version: i32,
    pub title: Option<String>,
    /// `Some(None)` clears it.
    pub logline: Option<Option<String>>,
    pub genre: Option<Option<String>>,
    pub language: Option<String>,
    pub config: Option<serde_json::Value>,
}

/// Filters of the session list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFilter {
    pub workspace_id: Option<Uuid>,
    pub status: Option<SessionStatus>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the title or logline.
    pub search: Option<String>,
}

/// Orders of the session list; cursors hold the order's timestamp.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SessionOrder {
    #[default]
    CreatedDesc,
    CreatedAsc,
    UpdatedDesc,
    UpdatedAsc,
}

/// How a write needs the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLock {
    /// Fragment and retrieval writes: concurrent with each other.
    Share,
    /// Outline and step status changes: one at a time per session.
    Exclusive,
}

/// Reads a session of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<sessions::Model> {
    sessions::Entity::find_by_id_in(caller.tenant_id, id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("session"))
}

/// A session and every step of its outline (in sibling order), in one
/// statement: the detail page reads both, and the steps' loader would take a
/// second round trip. The steps need no tenant condition of their own: their
/// foreign key `(tenant_id, session_id)` keeps them in the session's tenant.
pub async fn get_with_outline(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    id: Uuid,
) -> AppResult<(sessions::Model, Vec<outline_steps::Model>)> {
    sessions::Entity::find_by_id_in(caller.tenant_id, id)
        .find_with_related(outline_steps::Entity)
        .order_by_asc(outline_steps::Column::ParentStepId)
        .order_by_asc(outline_steps::Column::Position)
        .all(db)
        .await?
        .pop()
        .ok_or(AppError::not_found("session"))
}

/// Sessions by id (missing ids are left out).
pub async fn get_many(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    ids: &[Uuid],
) -> AppResult<Vec<sessions::Model>> {
    Ok(sessions::Entity::find_in(caller.tenant_id)
        .filter(sessions::Column::Id.eq_any(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Locks a session for a write and checks it still accepts one: `NOT_FOUND`
/// when missing, `CONFLICT` when cancelled.
pub async fn lock_for_write(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    id: Uuid,
    lock: SessionLock,
) -> AppResult<sessions::Model> {
    let lock = match lock {
        SessionLock::Share => LockType::Share,
        SessionLock::Exclusive => LockType::NoKeyUpdate,
    };
    let session = sessions::Entity::find_by_id_in(caller.tenant_id, id)
        .lock(lock)
        .one(db)
        .await?
        .ok_or(AppError::not_found("session"))?;
    ensure_not_cancelled(&session)?;
    Ok(session)
}

/// `CONFLICT` for a cancelled session.
pub fn ensure_not_cancelled(session: &sessions::Model) -> AppResult<()> {
    if session.status == SessionStatus::Cancelled {
        return Err(AppError::conflict(
            "the session is cancelled and accepts no further writes",
        ));
    }
    Ok(())
}

fn filtered(caller: &TenantCaller, filter: &SessionFilter) -> sea_orm::Select<sessions::Entity> {
    use sea_orm::sea_query::{Expr, extension::postgres::PgExpr};
    let mut select = sessions::Entity::find_in(caller.tenant_id);
    if let Some(ws) = filter.workspace_id {
        select = select.filter(sessions::Column::WorkspaceId.eq(ws));
    }
    if let Some(status) = filter.status {
        select = select.filter(sessions::Column::Status.eq(status));
    }
    if let Some(after) = filter.created_after {
        select = select.filter(sessions::Column::CreatedAt.gte(after));
    }
    if let Some(before) = filter.created_before {
        select = select.filter(sessions::Column::CreatedAt.lt(before));
    }
    if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", escape_like(search));
        select = select.filter(
            Condition::any()
                .add(Expr::col(sessions::Column::Title).ilike(pattern.clone()))
                .add(Expr::col(sessions::Column::Logline).ilike(pattern)),
        );
    }
    select
}

/// Escapes `%`, `_` and `\` for LIKE.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Checks list filters.
pub fn check_filter(filter: &SessionFilter) -> AppResult<()> {
    if let (Some(a), Some(b)) = (filter.created_after, filter.created_before)
        && a >= b
    {
        return Err(AppError::bad_input(
            "createdBefore",
            "`createdBefore` must be after `createdAfter`",
        ));
    }
    if filter.search.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(AppError::bad_input("search", "`search` must be at most 200 characters"));
    }
    Ok(())
}

/// Lists the tenant's sessions.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    filter: &SessionFilter,
    order: SessionOrder,
    page: &Page,
) -> AppResult<PageResult<sessions::Model>> {
    check_filter(filter)?;
    let (column, ascending) = match order {
        SessionOrder::CreatedDesc => (sessions::Column::CreatedAt, false),
        SessionOrder::CreatedAsc => (sessions::Column::CreatedAt, true),
        SessionOrder::UpdatedDesc => (sessions::Column::UpdatedAt, false),
        SessionOrder::UpdatedAsc => (sessions::Column::UpdatedAt, true),
    };
    page::fetch_ordered(
        db,
        filtered(caller, filter),
        column,
        sessions::Column::Id,
        ascending,
        page,
    )
    .await
}

pub async fn count(db: &impl ConnectionTrait, caller: &TenantCaller, filter: &SessionFilter) -> AppResult<u64> {
    Ok(filtered(caller, filter).count(db).await?)
}

fn config(value: serde_json::Value) -> AppResult<serde_json::Value> {
    let value = validate::json_object("config", value)?;
    if value.to_string().len() > MAX_CONFIG_BYTES {
        return Err(AppError::bad_input(
            "config",
            format!("`config` must be at most {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    Ok(value)
}

/// Creates a session (status `planning`, no outline yet).
pub async fn create(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: NewSession,
) -> AppResult<sessions::Model> {
    let title = validate::name("title", &input.title, MAX_TITLE)?;
    let logline = validate::optional_text("logline", input.logline, MAX_LOGLINE)?;
    let genre = validate::optional_text("genre", input.genre, MAX_GENRE)?;
    let language = validate::language("language", input.language.as_deref().unwrap_or("en"))?;
    let config = config(input.config.unwrap_or_else(|| serde_json::json!({})))?;
    let tx = db.begin().await?;
    workspaces::get_writable(&tx, caller, input.workspace_id).await?;
    let now = Utc::now().fixed_offset();
    let session = sessions::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(caller.tenant_id.into()),
        workspace_id: Set(input.workspace_id),
        created_by: Set(caller.user_id),
        title: Set(title),
        logline: Set(logline),
        genre: Set(genre),
        language: Set(language),
        status: Set(SessionStatus::Planning),
        config: Set(config),
        error: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(session)
}

/// Changes a session's own fields if `version` is current; bumps it.
/// Returns the session before and after.
pub async fn update(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    id: Uuid,
    change: SessionChange,
) -> AppResult<(sessions::Model, sessions::Model)> {
    let tx = db.begin().await?;
    let before = lock_for_write(&tx, caller, id, SessionLock::Exclusive).await?;
    if before.version != change.version {
        return Err(stale("session", change.version, before.version));
    }
    let mut model: sessions::ActiveModel = before.clone().into();
    if let Some(title) = change.title {
        model.title = Set(validate::name("title", &title, MAX_TITLE)?);
    }
    if let Some(logline) = change.logline {
        model.logline = Set(validate::optional_text("logline", logline, MAX_LOGLINE)?);
    }
    if let Some(genre) = change.genre {
        model.genre = Set(validate::optional_text("genre", genre, MAX_GENRE)?);
    }
    if let Some(lang) = change.language {
        model.language = Set(validate::language("language", &lang)?);
    }
    if let Some(value) = change.config {
        model.config = Set(config(value)?);
    }
    model.version = Set(before.version + 1);
    let after = model.update(&tx).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// The `CONFLICT` of a stale optimistic-lock version.
pub fn stale(what: &str, given: i32, current: i32) -> AppError {
    AppError::conflict(format!(
        "the {what} changed since version {given} (now version {current}); reload it and apply your change again"
    ))
}

/// Cancels a session: agents' further writes get `CONFLICT`. Cancelling a
/// cancelled session changes nothing; a completed one cannot be cancelled.
pub async fn cancel(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    id: Uuid,
) -> AppResult<(sessions::Model, sessions::Model)> {
    let tx = db.begin().await?;
    let before = sessions::Entity::find_by_id_in(caller.tenant_id, id)
        .lock(LockType::NoKeyUpdate)
        .one(&tx)
        .await?
        .ok_or(AppError::not_found("session"))?;
    match before.status {
        SessionStatus::Cancelled => return Ok((before.clone(), before)),
        SessionStatus::Completed => {
            return Err(AppError::conflict("the session is completed and cannot be cancelled"));
        }
        _ => {}
    }
    let mut model: sessions::ActiveModel = before.clone().into();
    model.status = Set(SessionStatus::Cancelled);
    model.version = Set(before.version + 1);
    let after = model.update(&tx).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// Deletes a session with its outline, fragments and retrievals; execution
/// and LLM call logs stay, unlinked.
pub async fn delete(db: &impl TransactionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<sessions::Model> {
    let tx = db.begin().await?;
    let session = get(&tx, caller, id).await?;
    sessions::Entity::delete_many_in(caller.tenant_id)
        .filter(sessions::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    tx.commit().await?;
    Ok(session)
}

/// Re-derives the session's status from its steps (see
/// [`session_status::derive`]) and stores it when it changed. Call with the
/// session locked by [`lock_for_write`] with [`SessionLock::Exclusive`].
pub async fn refresh_status(db: &impl ConnectionTrait, session: &sessions::Model) -> AppResult<sessions::Model> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FILTER (WHERE status = 'pending') AS pending, \
                    count(*) FILTER (WHERE status = 'running') AS running, \
                    count(*) FILTER (WHERE status = 'completed') AS completed, \
                    count(*) FILTER (WHERE status = 'failed') AS failed, \
                    count(*) FILTER (WHERE status = 'skipped') AS skipped, \
                    (array_agg(title || coalesce(': ' || error, '') ORDER BY updated_at DESC, id) \
                        FILTER (WHERE status = 'failed'))[1] AS failure \
             FROM screenplay.outline_steps WHERE tenant_id = $1 AND session_id = $2",
            [session.tenant_id.into(), session.id.into()],
        ))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("step counts returned no row")))?;
    let counts = StepCounts {
        pending: row.try_get("", "pending")?,
        running: row.try_get("", "running")?,
        completed: row.try_get("", "completed")?,
        failed: row.try_get("", "failed")?,
        skipped: row.try_get("", "skipped")?,
    };
    let failure: Option<String> = row.try_get("", "failure")?;
    let status = session_status::derive(session.status, &counts);
    let error = match status {
        SessionStatus::Failed => failure.map(|f| format!("step failed: {f}")),
        SessionStatus::Cancelled => session.error.clone(),
        _ => None,
    };
    if status == session.status && error == session.error {
        return Ok(session.clone());
    }
    let mut model: sessions::ActiveModel = session.clone().into();
    model.status = Set(status);
    model.error = Set(error);
    Ok(model.update(db).await?)
}

/// Whether any step of the list is running.
pub fn any_running(steps: &[entity::outline_steps::Model]) -> bool {
    steps.iter().any(|s| s.status == StepStatus::Running)
}
