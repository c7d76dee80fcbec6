use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, FixedOffset};
use entity::{fragment_versions, screenplay_fragments};
use uuid::Uuid;

use super::{FragmentKind, FragmentOrigin, OutlineStep};
use crate::graphql::{
    context::ContextExt,
    loaders::{StepById, VersionsOfFragment},
};

/// One screenplay element under an outline step (its current version).
#[derive(Clone)]
pub struct Fragment(pub screenplay_fragments::Model);

impl From<screenplay_fragments::Model> for Fragment {
    fn from(m: screenplay_fragments::Model) -> Self {
        Self(m)
    }
}

#[Object]
impl Fragment {
    async fn id(&self) -> Uuid {
        self.0.id
    }
    async fn session_id(&self) -> Uuid {
        self.0.session_id
    }
    async fn step_id(&self) -> Uuid {
        self.0.step_id
    }
    /// 0-based order within the step (dense).
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn kind(&self) -> FragmentKind {
        self.0.kind.into()
    }
    /// Who speaks (DIALOGUE and PARENTHETICAL).
    async fn character(&self) -> Option<&str> {
        self.0.character.as_deref()
    }
    async fn content(&self) -> &str {
        &self.0.content
    }
    /// Current version; pass it to `reviseFragment`.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// How the current version came to be.
    async fn origin(&self) -> FragmentOrigin {
        self.0.origin.into()
    }
    async fn agent_name(&self) -> Option<&str> {
        self.0.agent_name.as_deref()
    }
    async fn token_count(&self) -> Option<i32> {
        self.0.token_count
    }
    /// Author of the current version.
    async fn created_by(&self) -> Option<Uuid> {
        self.0.created_by
    }
    async fn created_at(&self) -> DateTime<FixedOffset> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<FixedOffset> {
        self.0.updated_at
    }

    /// The step it belongs to.
    async fn step(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OutlineStep>> {
        Ok(ctx
            .loaders()
            .one(StepById(self.0.step_id))
            .await?
            .map(OutlineStep::from))
    }

    /// Every version, oldest first; the last one is the current version.
    async fn versions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FragmentVersion>> {
        let earlier = ctx
            .loaders()
            .one(VersionsOfFragment(self.0.id))
            .await?
            .unwrap_or_default();
        let mut out: Vec<FragmentVersion> = earlier.iter().map(FragmentVersion::from).collect();
        out.push(FragmentVersion {
            version: self.0.version,
            character: self.0.character.clone(),
            content: self.0.content.clone(),
            origin: self.0.origin.into(),
            agent_name: self.0.agent_name.clone(),
            created_by: self.0.created_by,
            created_at: self.0.updated_at,
            current: true,
        });
        Ok(out)
    }
}

/// One version of a fragment.
#[derive(SimpleObject, Clone)]
pub struct FragmentVersion {
    pub version: i32,
    pub character: Option<String>,
    pub content: String,
    pub origin: FragmentOrigin,
    pub agent_name: Option<String>,
    /// Who wrote this version.
    pub created_by: Option<Uuid>,
    /// When this version was written.
    pub created_at: DateTime<FixedOffset>,
    /// Whether this is the fragment's current version.
    pub current: bool,
}

impl From<&fragment_versions::Model> for FragmentVersion {
    fn from(m: &fragment_versions::Model) -> Self {
        Self {
            version: m.version,
            character: m.character.clone(),
            content: m.content.clone(),
            origin: m.origin.into(),
            agent_name: m.agent_name.clone(),
            created_by: m.created_by,
            created_at: m.created_at,
            current: false,
        }
    }
}
