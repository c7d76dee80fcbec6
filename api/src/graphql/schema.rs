//! The one schema builder, used by the server, the SDL export and the tests.

use async_graphql::{
    SDLExportOptions, Schema, SchemaBuilder,
    parser::types::{ExecutableDocument, Selection},
};

use super::{
    extensions::{PersistedQueries, RequestLifecycle, RequestMetrics},
    mutation::MutationRoot,
    query::QueryRoot,
    subscription::SubscriptionRoot,
};
use crate::{auth::Principal, config::LimitsConfig, state::SharedState};

/// The API schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Depth an introspection-only operation may reach: graphql-js's standard
/// introspection query (what GraphiQL and code generators send) needs 15.
const INTROSPECTION_DEPTH: usize = 20;
/// Complexity of an introspection-only operation: the standard query is
/// about 120; a document of many aliased `__schema` copies is not.
const INTROSPECTION_COMPLEXITY: usize = 1_000;

/// Builds of the same schema: signed-in callers get the configured limits,
/// anonymous callers stricter ones, and operations that select nothing but
/// introspection (which reads no data) limits that admit the standard
/// introspection query.
#[derive(Clone)]
pub struct Schemas {
    pub authenticated: AppSchema,
    pub anonymous: AppSchema,
    pub introspection: AppSchema,
}

impl Schemas {
    /// The build for `principal` running `document`.
    pub fn for_operation(
        &self,
        principal: &Principal,
        document: Option<&ExecutableDocument>,
        operation_name: Option<&str>,
    ) -> &AppSchema {
        if document.is_some_and(|d| introspection_only(d, operation_name)) {
            return &self.introspection;
        }
        match principal {
            Principal::Anonymous { .. } => &self.anonymous,
            _ => &self.authenticated,
        }
    }
}

/// Whether the operation selects only `__schema`, `__type` and `__typename`
/// at its root (a fragment at the root counts as data).
fn introspection_only(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
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
    let limits = state.config.limits.clone();
    let build = |depth, complexity| {
        builder(depth, complexity, &limits)
            .data(state.clone())
            // The lifecycle first: it must see (and audit) requests that the
            // persisted-query step refuses.
            .extension(RequestLifecycle)
            .extension(PersistedQueries(state.persisted.clone()))
            .extension(RequestMetrics)
            .finish()
    };
    Schemas {
        authenticated: build(limits.max_depth, limits.max_complexity),
        anonymous: build(limits.anon_max_depth, limits.anon_max_complexity),
        introspection: build(INTROSPECTION_DEPTH, INTROSPECTION_COMPLEXITY),
    }
}

/// The SDL of the schema (what `schema.graphql` holds), with the
/// `@specifiedBy` URLs that introspection reports.
pub fn sdl() -> String {
    let limits = LimitsConfig::default();
    builder(limits.max_depth, limits.max_complexity, &limits)
        .finish()
        .sdl_with_options(SDLExportOptions::new().include_specified_by())
}
