use std::collections::HashMap;

use async_graphql::{Context, Object};
use chrono::{DateTime, FixedOffset};
use entity::outline_steps;
use uuid::Uuid;

use super::{Fragment, RetrievedDocument, StepStatus};
use crate::graphql::{
    context::ContextExt,
    loaders::{FragmentsOfStep, RetrievalsOfStep, StepsOfSession},
};

/// One step of a session's outline (an act, a sequence, a scene).
#[derive(Clone)]
pub struct OutlineStep {
    pub model: outline_steps::Model,
    /// Known when the step came from a whole outline; loaded otherwise.
    children: Option<Vec<OutlineStep>>,
}

impl From<outline_steps::Model> for OutlineStep {
    fn from(model: outline_steps::Model) -> Self {
        Self { model, children: None }
    }
}

impl OutlineStep {
    /// The tree of a session's steps: top-level steps with their children.
    pub fn tree(all: &[outline_steps::Model]) -> Vec<OutlineStep> {
        Self::subtree(all, None)
    }

    fn subtree(all: &[outline_steps::Model], root: Option<Uuid>) -> Vec<OutlineStep> {
        let mut children: HashMap<Option<Uuid>, Vec<&outline_steps::Model>> = HashMap::new();
        for step in all {
            children.entry(step.parent_step_id).or_default().push(step);
        }
        for list in children.values_mut() {
            list.sort_by_key(|s| (s.position, s.id));
        }
        fn build(
            parent: Option<Uuid>,
            children: &HashMap<Option<Uuid>, Vec<&outline_steps::Model>>,
        ) -> Vec<OutlineStep> {
            children
                .get(&parent)
                .into_iter()
                .flatten()
                .map(|s| OutlineStep {
                    model: (*s).clone(),
                    children: Some(build(Some(s.id), children)),
                })
                .collect()
        }
        build(root, &children)
    }
}

#[Object]
impl OutlineStep {
    async fn id(&self) -> Uuid {
        self.model.id
    }
    async fn session_id(&self) -> Uuid {
        self.model.session_id
    }
    async fn parent_step_id(&self) -> Option<Uuid> {
        self.model.parent_step_id
    }
    /// 0-based order among its siblings (dense).
    async fn position(&self) -> i32 {
        self.model.position
    }
    async fn title(&self) -> &str {
        &self.model.title
    }
    async fn description(&self) -> Option<&str> {
        self.model.description.as_deref()
    }
    async fn status(&self) -> StepStatus {
        self.model.status.into()
    }
    async fn agent_name(&self) -> Option<&str> {
        self.model.agent_name.as_deref()
    }
    /// Why the step failed.
    async fn error(&self) -> Option<&str> {
        self.model.error.as_deref()
    }
    async fn started_at(&self) -> Option<DateTime<FixedOffset>> {
        self.model.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<FixedOffset>> {
        self.model.finished_at
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.model.updated_at
    }

    /// Child steps in order.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OutlineStep>> {
        if let Some(children) = &self.children {
            return Ok(children.clone());
        }
        let all = ctx
            .loaders()
            .one(StepsOfSession(self.model.session_id))
            .await?
            .unwrap_or_default();
        Ok(Self::subtree(&all, Some(self.model.id)))
    }

    /// The step's fragments in order (current versions).
    async fn fragments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Fragment>> {
        let list = ctx
            .loaders()
            .one(FragmentsOfStep(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(list.iter().cloned().map(Fragment::from).collect())
    }

    /// Documents retrieved for this step.
    async fn retrievals(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RetrievedDocument>> {
        let list = ctx
            .loaders()
            .one(RetrievalsOfStep(self.model.id))
            .await?
            .unwrap_or_default();
        Ok(list.iter().cloned().map(RetrievedDocument::from).collect())
    }
}
