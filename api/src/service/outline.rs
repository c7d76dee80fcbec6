//! The outline of a session: a tree of steps (acts > sequences > scenes),
//! siblings densely numbered from 0, and each step's status machine (see
//! [`super::session_status`]). Every change re-derives the session's status
//! in the same transaction.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{enums::StepStatus, outline_steps as steps, screenplay_fragments as fragments, screenplay_sessions};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set, Statement, TransactionSession, TransactionTrait, sea_query::LockType,
};
use uuid::Uuid;

use super::{
    session_status,
    sessions::{self, SessionLock},
};
use crate::domain::validate;
use crate::{
    auth::TenantCaller,
    db::{TenantOwned, batch, rows},
    error::{AppError, AppResult},
};

/// Deepest outline (act > sequence > scene > beat).
pub const MAX_DEPTH: usize = 4;
/// Most steps in one session.
pub const MAX_STEPS: usize = 500;
pub const MAX_TITLE: usize = 300;
pub const MAX_DESCRIPTION: usize = 5000;
pub const MAX_ERROR: usize = 10_000;

/// One step of a new outline and its children.
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    pub title: String,
    pub description: Option<String>,
    pub agent_name: Option<String>,
    pub children: Vec<StepInput>,
}

pub struct NewStep {
    pub session_id: Uuid,
    pub parent_step_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub agent_name: Option<String>,
    /// Among its siblings; the end when absent.
    pub position: Option<i32>,
}

pub struct StepMove {
    pub id: Uuid,
    /// `None`: keep the parent; `Some(None)`: top level.
    pub parent_step_id: Option<Option<Uuid>>,
    /// Among the new siblings; the end when absent.
    pub position: Option<i32>,
}

pub struct StatusChange {
    pub id: Uuid,
    pub status: StepStatus,
    /// Only with `failed`.
    pub error: Option<String>,
    pub agent_name: Option<String>,
}

/// A step of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<steps::Model> {
    steps::Entity::find_by_id_in(caller.tenant_id, id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("step"))
}

/// A step that must belong to `session_id`: `NOT_FOUND` when invisible,
/// `BAD_USER_INPUT` on `field` when it is another session's.
pub async fn get_in_session(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_id: Uuid,
    id: Uuid,
    field: &str,
) -> AppResult<steps::Model> {
    let step = get(db, caller, id).await?;
    if step.session_id != session_id {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` is a step of another session"),
        ));
    }
    Ok(step)
}

/// Steps by id (missing ids left out).
pub async fn get_many(db: &impl ConnectionTrait, caller: &TenantCaller, ids: &[Uuid]) -> AppResult<Vec<steps::Model>> {
    Ok(steps::Entity::find_in(caller.tenant_id)
        .filter(steps::Column::Id.eq_any(ids.iter().copied()))
        .all(db)
        .await?)
}

/// Every step of the given sessions, in sibling order.
pub async fn for_sessions(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_ids: &[Uuid],
) -> AppResult<Vec<steps::Model>> {
    let select = steps::Entity::find_in(caller.tenant_id)
        .filter(steps::Column::SessionId.eq_any(session_ids.iter().copied()))
        .order_by_asc(steps::Column::SessionId)
        .order_by_asc(steps::Column::ParentStepId)
        .order_by_asc(steps::Column::Position);
    rows::all(db, select).await
}

/// The steps of a session in outline order (depth first, siblings by position).
pub fn outline_order(all: &[steps::Model]) -> Vec<&steps::Model> {
    let mut children: HashMap<Option<Uuid>, Vec<&steps::Model>> = HashMap::new();
    for step in all {
        children.entry(step.parent_step_id).or_default().push(step);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.position, s.id));
    }
    let mut out = Vec::with_capacity(all.len());
    fn walk<'a>(
        parent: Option<Uuid>,
        children: &HashMap<Option<Uuid>, Vec<&'a steps::Model>>,
        out: &mut Vec<&'a steps::Model>,
    ) {
        if let Some(list) = children.get(&parent) {
            for step in list {
                out.push(step);
                walk(Some(step.id), children, out);
            }
        }
    }
    walk(None, &children, &mut out);
    out
}

fn check_step_text(
    path: &str,
    title: &str,
    description: Option<String>,
    agent_name: Option<String>,
) -> AppResult<(String, Option<String>, Option<String>)> {
    Ok((
        validate::name(&format!("{path}title"), title, MAX_TITLE)?,
        validate::optional_text(&format!("{path}description"), description, MAX_DESCRIPTION)?,
        validate::optional_text(&format!("{path}agentName"), agent_name, 100)?,
    ))
}

/// An outline tree as rows, depth first, checked on the way.
struct Flattened {
    tenant_id: Uuid,
    session_id: Uuid,
    now: chrono::DateTime<chrono::FixedOffset>,
    /// The new rows as `jsonb_populate_recordset` reads them (see [`insert_steps`]).
    rows: Vec<serde_json::Value>,
}

impl Flattened {
    /// Adds `list` (children of `parent`, at `depth`); errors name the input path.
    fn add(&mut self, list: Vec<StepInput>, parent: Option<Uuid>, depth: usize, path: &str) -> AppResult<()> {
        if depth > MAX_DEPTH && !list.is_empty() {
            return Err(AppError::bad_input(
                path.trim_end_matches('.').to_owned(),
                format!("an outline is at most {MAX_DEPTH} levels deep"),
            ));
        }
        for (i, step) in list.into_iter().enumerate() {
            let here = format!("{path}[{i}].");
            let (title, description, agent_name) =
                check_step_text(&here, &step.title, step.description, step.agent_name)?;
            if self.rows.len() >= MAX_STEPS {
                return Err(AppError::bad_input(
                    "steps",
                    format!("an outline has at most {MAX_STEPS} steps"),
                ));
            }
            let id = Uuid::now_v7();
            self.rows.push(serde_json::json!({
                "id": id, "tenant_id": self.tenant_id, "session_id": self.session_id,
                "parent_step_id": parent, "position": i, "title": title, "description": description,
                "status": StepStatus::Pending.as_str(), "agent_name": agent_name,
                "created_at": self.now, "updated_at": self.now,
            }));
            self.add(step.children, Some(id), depth + 1, &format!("{here}children"))?;
        }
        Ok(())
    }
}

/// Replaces a session's whole outline. Refused with `CONFLICT` while a step
/// runs or once fragments were written (they would be lost); use
/// `addOutlineStep` / `moveOutlineStep` then. An empty list clears the outline.
pub async fn set_outline(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    session_id: Uuid,
    input: Vec<StepInput>,
) -> AppResult<(screenplay_sessions::Model, Vec<steps::Model>)> {
    // Validate and flatten first: nothing is written for a bad tree.
    let mut flat = Flattened {
        tenant_id: caller.tenant_id.uuid(),
        session_id,
        now: Utc::now().fixed_offset(),
        rows: Vec::new(),
    };
    flat.add(input, None, 1, "steps")?;
    let rows = flat.rows;

    let tx = db.begin().await?;
    let session = sessions::lock_for_write(&tx, caller, session_id, SessionLock::Exclusive).await?;
    let existing = for_sessions(&tx, caller, &[session_id]).await?;
    if sessions::any_running(&existing) {
        return Err(AppError::conflict(
            "a step of this outline is running; the outline cannot be replaced now",
        ));
    }
    let written = fragments::Entity::find_in(caller.tenant_id)
        .filter(fragments::Column::SessionId.eq(session_id))
        .count(&tx)
        .await?;
    if written > 0 {
        return Err(AppError::conflict(
            "fragments were written for this outline; change it with addOutlineStep and moveOutlineStep",
        ));
    }
    if !existing.is_empty() {
        steps::Entity::delete_many_in(caller.tenant_id)
            .filter(steps::Column::SessionId.eq(session_id))
            .exec(&tx)
            .await?;
    }
    let inserted = insert_steps(&tx, rows).await?;
    notify_outline_changed(&tx, caller, session_id).await?;
    let session = sessions::refresh_status(&tx, &session).await?;
    tx.commit().await?;
    let order: Vec<steps::Model> = outline_order(&inserted).into_iter().cloned().collect();
    Ok((session, order))
}

/// New steps in one INSERT of one shape whatever their number ([`batch::insert_rows`]).
async fn insert_steps(db: &impl ConnectionTrait, rows: Vec<serde_json::Value>) -> AppResult<Vec<steps::Model>> {
    const INSERTED: &str = "id, tenant_id, session_id, parent_step_id, position, title, description, status, \
                            agent_name, created_at, updated_at";
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let returning = format!("RETURNING {}", <steps::Model as rows::Positional>::COLUMNS.join(", "));
    rows::all_raw(
        db,
        batch::insert_rows("screenplay.outline_steps", INSERTED, rows, &returning),
    )
    .await
}

/// Tells subscribers the tree changed (steps added, moved or replaced).
async fn notify_outline_changed(db: &impl ConnectionTrait, caller: &TenantCaller, session_id: Uuid) -> AppResult<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT screenplay.notify_session_event($1, $2, 'outline_changed', '{}'::jsonb)",
        [caller.tenant_id.into(), session_id.into()],
    ))
    .await?;
    Ok(())
}

/// Depth of a step (top level is 1) and the height of its subtree (a leaf is 1).
fn depth_of(all: &HashMap<Uuid, &steps::Model>, id: Option<Uuid>) -> usize {
    let mut depth = 0;
    let mut cursor = id;
    while let Some(current) = cursor {
        depth += 1;
        cursor = all.get(&current).and_then(|s| s.parent_step_id);
        if depth > MAX_STEPS {
            break;
        }
    }
    depth
}

fn subtree(all: &[steps::Model], root: Uuid) -> (HashSet<Uuid>, usize) {
    let mut members = HashSet::from([root]);
    let mut height = 1;
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        let next: Vec<Uuid> = all
            .iter()
            .filter(|s| s.parent_step_id.is_some_and(|p| frontier.contains(&p)))
            .map(|s| s.id)
            .collect();
        if next.is_empty() {
            break;
        }
        height += 1;
        members.extend(next.iter().copied());
        frontier = next;
    }
    (members, height)
}

fn check_position(position: Option<i32>, siblings: usize) -> AppResult<usize> {
    match position {
        None => Ok(siblings),
        Some(p) if p < 0 || p as usize > siblings => Err(AppError::bad_input(
            "position",
            format!("`position` must be between 0 and {siblings}"),
        )),
        Some(p) => Ok(p as usize),
    }
}

/// Writes new positions (and parents) for the listed steps in one statement.
async fn renumber(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    rows: &[(Uuid, i32, Option<Uuid>)],
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let positions: Vec<i32> = rows.iter().map(|r| r.1).collect();
    // Text, with '' for none: arrays of nullable uuids do not bind.
    let parents: Vec<String> = rows
        .iter()
        .map(|r| r.2.map(|p| p.to_string()).unwrap_or_default())
        .collect();
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE screenplay.outline_steps s SET position = v.position, parent_step_id = v.parent \
         FROM (SELECT u.id, u.position, nullif(u.parent, '')::uuid AS parent \
               FROM unnest($2::uuid[], $3::int[], $4::text[]) AS u(id, position, parent)) AS v \
         WHERE s.tenant_id = $1 AND s.id = v.id \
           AND (s.position, s.parent_step_id) IS DISTINCT FROM (v.position, v.parent)",
        [caller.tenant_id.into(), ids.into(), positions.into(), parents.into()],
    ))
    .await?;
    Ok(())
}

/// Adds one step under `parent_step_id` (or at the top) at `position`;
/// later siblings move down by one.
pub async fn add_step(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: NewStep,
) -> AppResult<(screenplay_sessions::Model, steps::Model)> {
    let (title, description, agent_name) = check_step_text("", &input.title, input.description, input.agent_name)?;
    let tx = db.begin().await?;
    let session = sessions::lock_for_write(&tx, caller, input.session_id, SessionLock::Exclusive).await?;
    let all = for_sessions(&tx, caller, &[session.id]).await?;
    if all.len() >= MAX_STEPS {
        return Err(AppError::bad_input(
            "sessionId",
            format!("an outline has at most {MAX_STEPS} steps"),
        ));
    }
    if let Some(parent) = input.parent_step_id {
        get_in_session(&tx, caller, session.id, parent, "parentStepId").await?;
        let by_id: HashMap<Uuid, &steps::Model> = all.iter().map(|s| (s.id, s)).collect();
        if depth_of(&by_id, Some(parent)) + 1 > MAX_DEPTH {
            return Err(AppError::bad_input(
                "parentStepId",
                format!("an outline is at most {MAX_DEPTH} levels deep"),
            ));
        }
    }
    let mut siblings: Vec<&steps::Model> = all
        .iter()
        .filter(|s| s.parent_step_id == input.parent_step_id)
        .collect();
    siblings.sort_by_key(|s| s.position);
    let position = check_position(input.position, siblings.len())?;
    let shifted: Vec<(Uuid, i32, Option<Uuid>)> = siblings
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= position)
        .map(|(i, s)| (s.id, i as i32 + 1, s.parent_step_id))
        .collect();
    renumber(&tx, caller, &shifted).await?;
    let now = Utc::now().fixed_offset();
    let step = steps::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(caller.tenant_id.into()),
        session_id: Set(session.id),
        parent_step_id: Set(input.parent_step_id),
        position: Set(position as i32),
        title: Set(title),
        description: Set(description),
        status: Set(StepStatus::Pending),
        agent_name: Set(agent_name),
        error: Set(None),
        started_at: Set(None),
        finished_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    notify_outline_changed(&tx, caller, session.id).await?;
    let session = sessions::refresh_status(&tx, &session).await?;
    tx.commit().await?;
    Ok((session, step))
}

/// Moves a step (with its subtree) among its siblings or under another
/// parent of the same session; both sibling lists stay dense.
pub async fn move_step(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: StepMove,
) -> AppResult<(steps::Model, steps::Model)> {
    let tx = db.begin().await?;
    let found = get(&tx, caller, input.id).await?;
    sessions::lock_for_write(&tx, caller, found.session_id, SessionLock::Exclusive).await?;
    let all = for_sessions(&tx, caller, &[found.session_id]).await?;
    let before = all
        .iter()
        .find(|s| s.id == input.id)
        .cloned()
        .ok_or(AppError::not_found("step"))?;
    let new_parent = input.parent_step_id.unwrap_or(before.parent_step_id);
    if let Some(parent) = new_parent {
        get_in_session(&tx, caller, before.session_id, parent, "parentStepId").await?;
        let (members, height) = subtree(&all, before.id);
        if members.contains(&parent) {
            return Err(AppError::bad_input(
                "parentStepId",
                "a step cannot move under itself or one of its own children",
            ));
        }
        let by_id: HashMap<Uuid, &steps::Model> = all.iter().map(|s| (s.id, s)).collect();
        if depth_of(&by_id, Some(parent)) + height > MAX_DEPTH {
            return Err(AppError::bad_input(
                "parentStepId",
                format!("an outline is at most {MAX_DEPTH} levels deep"),
            ));
        }
    }
    let sorted = |parent: Option<Uuid>| {
        let mut list: Vec<&steps::Model> = all
            .iter()
            .filter(|s| s.parent_step_id == parent && s.id != before.id)
            .collect();
        list.sort_by_key(|s| s.position);
        list
    };
    let mut target = sorted(new_parent);
    let position = check_position(input.position, target.len())?;
    target.insert(position, &before);
    let mut rows: Vec<(Uuid, i32, Option<Uuid>)> = target
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i as i32, new_parent))
        .collect();
    if new_parent != before.parent_step_id {
        rows.extend(
            sorted(before.parent_step_id)
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id, i as i32, before.parent_step_id)),
        );
    }
    renumber(&tx, caller, &rows).await?;
    notify_outline_changed(&tx, caller, before.session_id).await?;
    let after = get(&tx, caller, before.id).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// Moves a step through its status machine and re-derives the session's
/// status. Returns the step before and after, and the session after.
pub async fn update_status(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    change: StatusChange,
) -> AppResult<(steps::Model, steps::Model, screenplay_sessions::Model)> {
    let error = validate::optional_text("error", change.error, MAX_ERROR)?;
    if error.is_some() && change.status != StepStatus::Failed {
        return Err(AppError::bad_input("error", "`error` is only for status FAILED"));
    }
    let agent_name = validate::optional_text("agentName", change.agent_name, 100)?;
    let tx = db.begin().await?;
    let found = get(&tx, caller, change.id).await?;
    let session = sessions::lock_for_write(&tx, caller, found.session_id, SessionLock::Exclusive).await?;
    let before = steps::Entity::find_by_id_in(caller.tenant_id, change.id)
        .lock(LockType::NoKeyUpdate)
        .one(&tx)
        .await?
        .ok_or(AppError::not_found("step"))?;
    session_status::check_step_transition(before.status, change.status)?;
    let now = Utc::now().fixed_offset();
    let mut model: steps::ActiveModel = before.clone().into();
    model.status = Set(change.status);
    model.error = Set(error);
    match change.status {
        StepStatus::Running => {
            model.started_at = Set(Some(now));
            model.finished_at = Set(None);
        }
        StepStatus::Pending => {
            model.started_at = Set(None);
            model.finished_at = Set(None);
        }
        StepStatus::Completed | StepStatus::Failed | StepStatus::Skipped => model.finished_at = Set(Some(now)),
    }
    if agent_name.is_some() {
        model.agent_name = Set(agent_name);
    }
    let after = model.update(&tx).await?;
    let session = sessions::refresh_status(&tx, &session).await?;
    tx.commit().await?;
    Ok((before, after, session))
}
