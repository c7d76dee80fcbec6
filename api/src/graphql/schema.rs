//! The one schema builder, used by the server, the SDL export and the tests.

use std::sync::Arc;

use async_graphql::{
    SDLExportOptions, Schema, SchemaBuilder,
    parser::types::{ExecutableDocument, Selection},
};

use super::{mutation::MutationRoot, query::QueryRoot, subscription::SubscriptionRoot};
use crate::{
    auth::{Principal, Role},
    config::{LimitsConfig, OperationLimits, RoleLimits},
    request::{parsed::ParsedDocuments, persisted::PersistedQueryStore},
    state::SharedState,
};

/// The API schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Depth an introspection-only operation may reach: graphql-js's standard
/// introspection query (what GraphiQL and code generators send) needs 15.
const INTROSPECTION_DEPTH: usize = 20;
/// Complexity of an introspection-only operation: the standard query is
/// about 120; a document of many aliased `__schema` copies is not.
const INTROSPECTION_COMPLEXITY: usize = 1_000;

/// Builds of the same schema, one per kind of caller (each with its role's
/// depth and complexity limits), and one for operations that select
/// nothing but introspection (which reads no data), with limits that admit
/// the standard introspection query. [`Schemas`] is also the one way into
/// them (see `gate`).
#[derive(Clone)]
pub struct Schemas {
    pub(super) anonymous: AppSchema,
    pub(super) viewer: AppSchema,
    pub(super) member: AppSchema,
    pub(super) agent: AppSchema,
    pub(super) tenant_admin: AppSchema,
    pub(super) platform_admin: AppSchema,
    pub(super) introspection: AppSchema,
    pub(super) limits: Arc<RoleLimits>,
    pub(super) persisted: Arc<PersistedQueryStore>,
    pub(super) parsed: Arc<ParsedDocuments>,
    /// Operations one websocket may have in flight.
    pub(super) socket_operations: usize,
}

impl Schemas {
    /// The build and the limits for `principal`.
    pub(super) fn for_caller(&self, principal: &Principal) -> (&AppSchema, &OperationLimits) {
        let limits = &self.limits;
        match principal.role() {
            None => (&self.anonymous, &limits.anonymous),
            Some(Role::Viewer) => (&self.viewer, &limits.viewer),
            Some(Role::Member) => (&self.member, &limits.member),
            Some(Role::Agent) => (&self.agent, &limits.agent),
            Some(Role::TenantAdmin) => (&self.tenant_admin, &limits.tenant_admin),
            Some(Role::PlatformAdmin) => (&self.platform_admin, &limits.platform_admin),
        }
    }
}

/// Limits of an introspection-only operation, whoever asks.
pub(super) const INTROSPECTION_LIMITS: OperationLimits = OperationLimits {
    max_depth: INTROSPECTION_DEPTH,
    max_complexity: INTROSPECTION_COMPLEXITY,
    max_fields: 1_000,
    ..OperationLimits::ANONYMOUS
};

/// Whether the operation selects only `__schema`, `__type` and `__typename`
/// at its root (a fragment at the root counts as data).
pub(super) fn introspection_only(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    let operation = match operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name)),
        None => document.operations.iter().next(),
    };
    let Some((_, operation)) = operation else { return false };
    let items = &operation.node.selection_set.node.items;
    !items.is_empty()
        && items.iter().all(|item| match &item.node {
            Selection::Field(field) => field.node.name.node.starts_with("__"),
            _ => false,
        })
}

fn builder(
    depth: usize,
    complexity: usize,
    limits: &LimitsConfig,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    // No `.extension(..)`: the lifecycle runs around the schema, and
    // `ready::Ready` objects skip the per-field hook an extension would have.
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(depth)
    .limit_complexity(complexity)
    .limit_recursive_depth(32)
    .limit_directives(16);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if !limits.suggestions {
        builder = builder.disable_suggestions();
    }
    builder
}

/// Builds the server's schemas with its state and middleware.
pub fn build_schemas(state: SharedState) -> Schemas {
    let config = state.config.clone();
    let limits = &config.limits;
    let build = |set: &OperationLimits| {
        builder(set.max_depth, set.max_complexity, limits)
            .data(state.clone())
            .finish()
    };
    let roles = &limits.roles;
    Schemas {
        anonymous: build(&roles.anonymous),
        viewer: build(&roles.viewer),
        member: build(&roles.member),
        agent: build(&roles.agent),
        tenant_admin: build(&roles.tenant_admin),
        platform_admin: build(&roles.platform_admin),
        introspection: build(&INTROSPECTION_LIMITS),
        limits: Arc::new(roles.clone()),
        persisted: state.persisted.clone(),
        parsed: state.parsed.clone(),
        socket_operations: config.http.ws_max_operations,
    }
}

/// The SDL of the schema (what `schema.graphql` holds), with the
/// `@specifiedBy` URLs that introspection reports.
pub fn sdl() -> String {
    let limits = LimitsConfig::default();
    let set = &limits.roles.tenant_admin;
    builder(set.max_depth, set.max_complexity, &limits)
        .finish()
        .sdl_with_options(SDLExportOptions::new().include_specified_by())
}
