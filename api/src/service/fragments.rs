//! Screenplay fragments: the elements agents and writers put under outline
//! steps, kept in dense order per step, revised with an optimistic lock, with
//! every earlier version kept in `fragment_versions` (their lineage: NEW,
//! CONTINUE, REWRITE by agents, EDIT by a person).

use chrono::Utc;
use entity::{
    enums::{FragmentKind, FragmentOrigin},
    fragment_versions as versions, outline_steps, screenplay_fragments as fragments,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
    TransactionSession, TransactionTrait, sea_query::LockType,
};
use uuid::Uuid;

use super::{
    outline,
    page::{self, ChildTable, Page, PageResult},
    sessions::{self, SessionLock},
};
use crate::domain::validate;
use crate::{
    auth::{Role, TenantCaller},
    db::{TenantOwned, rows},
    error::{AppError, AppResult},
};

/// Longest fragment content, in characters.
pub const MAX_CONTENT: usize = 10_000;
/// Longest character name.
pub const MAX_CHARACTER: usize = 100;

/// The per-session connection of fragments.
pub const BY_SESSION: ChildTable = ChildTable {
    table: "screenplay_fragments",
    parent: "session_id",
};

pub struct NewFragment {
    pub session_id: Uuid,
    pub step_id: Uuid,
    pub kind: FragmentKind,
    pub character: Option<String>,
    pub content: String,
    /// `NEW` when absent.
    pub origin: Option<FragmentOrigin>,
    pub agent_name: Option<String>,
    pub token_count: Option<i32>,
}

pub struct Revision {
    pub id: Uuid,
    /// The version the reviser read.
    pub version: i32,
    pub content: String,
    /// `REWRITE` for agents, `EDIT` for people when absent.
    pub origin: Option<FragmentOrigin>,
    /// `None` keeps it; `Some(None)` clears it.
    pub character: Option<Option<String>>,
    pub agent_name: Option<String>,
    pub token_count: Option<i32>,
}

/// Kinds whose content is a single line.
fn single_line(kind: FragmentKind) -> bool {
    matches!(
        kind,
        FragmentKind::SceneHeading | FragmentKind::Character | FragmentKind::Parenthetical | FragmentKind::Transition
    )
}

/// Kinds that name who speaks.
pub fn takes_character(kind: FragmentKind) -> bool {
    matches!(kind, FragmentKind::Dialogue | FragmentKind::Parenthetical)
}

fn check_content(kind: FragmentKind, content: &str) -> AppResult<String> {
    let content = content.trim();
    if content.is_empty() {
        return Err(AppError::bad_input("content", "`content` must not be empty"));
    }
    let chars = content.chars().count();
    if chars > MAX_CONTENT {
        return Err(AppError::bad_input(
            "content",
            format!("`content` must be at most {MAX_CONTENT} characters (got {chars})"),
        ));
    }
    if single_line(kind) && content.contains(['\n', '\r']) {
        return Err(AppError::bad_input(
            "content",
            format!("a {} fragment is a single line", kind.as_str().to_uppercase()),
        ));
    }
    Ok(content.replace("\r\n", "\n"))
}

fn check_character(kind: FragmentKind, character: Option<String>) -> AppResult<Option<String>> {
    let character = validate::optional_text("character", character, MAX_CHARACTER)?;
    if let Some(name) = &character {
        if !takes_character(kind) {
            return Err(AppError::bad_input(
                "character",
                format!(
                    "only DIALOGUE and PARENTHETICAL fragments name a character, not {}",
                    kind.as_str().to_uppercase()
                ),
            ));
        }
        if name.contains(['\n', '\r']) {
            return Err(AppError::bad_input("character", "`character` is a single line"));
        }
    }
    Ok(character)
}

fn check_origin(caller: &TenantCaller, origin: FragmentOrigin) -> AppResult<FragmentOrigin> {
    if origin == FragmentOrigin::Edit && caller.role == Role::Agent {
        return Err(AppError::bad_input(
            "origin",
            "EDIT marks a person's edit; agents write NEW, CONTINUE or REWRITE",
        ));
    }
    Ok(origin)
}

fn check_tokens(token_count: Option<i32>) -> AppResult<Option<i32>> {
    match token_count {
        Some(n) if n < 0 => Err(AppError::bad_input("tokenCount", "`tokenCount` must not be negative")),
        other => Ok(other),
    }
}

/// A fragment of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<fragments::Model> {
    fragments::Entity::find_by_id_in(caller.tenant_id, id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("fragment"))
}

pub async fn get_many(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    ids: &[Uuid],
) -> AppResult<Vec<fragments::Model>> {
    Ok(fragments::Entity::find_in(caller.tenant_id)
        .filter(fragments::Column::Id.eq_any(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Fragments of the given steps, in order.
pub async fn for_steps(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    step_ids: &[Uuid],
) -> AppResult<Vec<fragments::Model>> {
    let select = fragments::Entity::find_in(caller.tenant_id)
        .filter(fragments::Column::StepId.eq_any(step_ids.iter().copied()))
        .order_by_asc(fragments::Column::StepId)
        .order_by_asc(fragments::Column::Position);
    rows::all(db, select).await
}

/// Every fragment of the given sessions (screenplay export).
pub async fn for_sessions(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
) -> AppResult<Vec<fragments::Model>> {
    let select = fragments::Entity::find_in(caller.tenant_id)
        .filter(fragments::Column::SessionId.eq_any(session_ids.iter().copied()))
        .order_by_asc(fragments::Column::StepId)
        .order_by_asc(fragments::Column::Position);
    rows::all(db, select).await
}

/// One page of fragments per session, newest first.
pub async fn page_per_session(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
    page: &Page,
) -> AppResult<std::collections::HashMap<Uuid, PageResult<fragments::Model>>> {
    page::fetch_per_parent(
        db,
        BY_SESSION,
        caller.tenant_id,
        session_ids,
        page,
        |f: &fragments::Model| Some(f.session_id),
    )
    .await
}

/// Earlier versions of the given fragments, oldest first.
pub async fn versions_for(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    fragment_ids: &[Uuid],
) -> AppResult<Vec<versions::Model>> {
    Ok(versions::Entity::find_in(caller.tenant_id)
        .filter(versions::Column::FragmentId.eq_any(fragment_ids.iter().copied()))
        .order_by_asc(versions::Column::FragmentId)
        .order_by_asc(versions::Column::Version)
        .all(db)
        .await?)
}

/// Locks a step row (appends and deletes renumber its fragments one at a time).
async fn lock_step(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<outline_steps::Model> {
    outline_steps::Entity::find_by_id_in(caller.tenant_id, id)
        .lock(LockType::NoKeyUpdate)
        .one(db)
        .await?
        .ok_or(AppError::not_found("step"))
}

/// Appends a fragment at the end of its step.
pub async fn append(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: NewFragment,
) -> AppResult<fragments::Model> {
    let content = check_content(input.kind, &input.content)?;
    let character = check_character(input.kind, input.character)?;
    let origin = check_origin(caller, input.origin.unwrap_or(FragmentOrigin::New))?;
    let agent_name = validate::optional_text("agentName", input.agent_name, 100)?;
    let token_count = check_tokens(input.token_count)?;
    let tx = db.begin().await?;
    let session = sessions::lock_for_write(&tx, caller, input.session_id, SessionLock::Share).await?;
    outline::get_in_session(&tx, caller, session.id, input.step_id, "stepId").await?;
    lock_step(&tx, caller, input.step_id).await?;
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT coalesce(max(position) + 1, 0) AS next FROM screenplay.screenplay_fragments \
             WHERE tenant_id = $1 AND step_id = $2",
            [caller.tenant_id.into(), input.step_id.into()],
        ))
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no position row")))?;
    let position: i32 = row.try_get("", "next")?;
    let now = Utc::now().fixed_offset();
    let fragment = fragments::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(caller.tenant_id.into()),
        session_id: Set(session.id),
        step_id: Set(input.step_id),
        position: Set(position),
        kind: Set(input.kind),
        character: Set(character),
        content: Set(content),
        version: Set(1),
        origin: Set(origin),
        agent_name: Set(agent_name),
        token_count: Set(token_count),
        created_by: Set(caller.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(fragment)
}

/// Revises a fragment if `version` is current: the current text moves to
/// `fragment_versions` and the fragment gets the next version. Of two
/// concurrent revisions of one version, the second waits for the first
/// (row lock) and then gets `CONFLICT`; nothing is lost.
pub async fn revise(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: Revision,
) -> AppResult<(fragments::Model, fragments::Model)> {
    let default_origin = if caller.role == Role::Agent {
        FragmentOrigin::Rewrite
    } else {
        FragmentOrigin::Edit
    };
    let origin = check_origin(caller, input.origin.unwrap_or(default_origin))?;
    let agent_name = validate::optional_text("agentName", input.agent_name, 100)?;
    let token_count = check_tokens(input.token_count)?;
    let tx = db.begin().await?;
    let found = get(&tx, caller, input.id).await?;
    sessions::lock_for_write(&tx, caller, found.session_id, SessionLock::Share).await?;
    let before = fragments::Entity::find_by_id_in(caller.tenant_id, input.id)
        .lock(LockType::NoKeyUpdate)
        .one(&tx)
        .await?
        .ok_or(AppError::not_found("fragment"))?;
    if before.version != input.version {
        return Err(sessions::stale("fragment", input.version, before.version));
    }
    let content = check_content(before.kind, &input.content)?;
    let character = match input.character {
        Some(c) => check_character(before.kind, c)?,
        None => before.character.clone(),
    };
    versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(before.tenant_id),
        fragment_id: Set(before.id),
        version: Set(before.version),
        character: Set(before.character.clone()),
        content: Set(before.content.clone()),
        origin: Set(before.origin),
        agent_name: Set(before.agent_name.clone()),
        created_by: Set(before.created_by),
        created_at: Set(before.updated_at),
    }
    .insert(&tx)
    .await?;
    let mut model: fragments::ActiveModel = before.clone().into();
    model.content = Set(content);
    model.character = Set(character);
    model.version = Set(before.version + 1);
    model.origin = Set(origin);
    model.agent_name = Set(agent_name);
    model.token_count = Set(token_count);
    model.created_by = Set(caller.user_id);
    let after = model.update(&tx).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// Deletes a fragment (and its versions); later fragments of its step move up.
pub async fn delete(db: &impl TransactionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<fragments::Model> {
    let tx = db.begin().await?;
    let found = get(&tx, caller, id).await?;
    sessions::lock_for_write(&tx, caller, found.session_id, SessionLock::Share).await?;
    lock_step(&tx, caller, found.step_id).await?;
    let fragment = get(&tx, caller, id).await?;
    fragments::Entity::delete_many_in(caller.tenant_id)
        .filter(fragments::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE screenplay.screenplay_fragments SET position = position - 1 \
         WHERE tenant_id = $1 AND step_id = $2 AND position > $3",
        [
            caller.tenant_id.into(),
            fragment.step_id.into(),
            fragment.position.into(),
        ],
    ))
    .await?;
    tx.commit().await?;
    Ok(fragment)
}
