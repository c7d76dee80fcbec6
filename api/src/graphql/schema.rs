//! The one schema builder, used by the server, the SDL export and the tests.

use async_graphql::{Schema, SchemaBuilder};

use super::{
    extensions::{PersistedQueries, RequestLifecycle, RequestMetrics},
    mutation::MutationRoot,
    query::QueryRoot,
    subscription::SubscriptionRoot,
};
use crate::{config::LimitsConfig, state::SharedState};

/// The API schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Two builds of the same schema: signed-in callers get the configured
/// limits, anonymous callers stricter ones.
#[derive(Clone)]
pub struct Schemas {
    pub authenticated: AppSchema,
    pub anonymous: AppSchema,
}

fn builder(
    depth: usize,
    complexity: usize,
    introspection: bool,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(depth)
    .limit_complexity(complexity)
    .limit_recursive_depth(32)
    .limit_directives(16);
    if introspection {
        builder
    } else {
        builder.disable_introspection()
    }
}

/// Builds the server's schemas with its state and middleware.
pub fn build_schemas(state: SharedState) -> Schemas {
    let limits = state.config.limits.clone();
    let build = |depth, complexity| {
        builder(depth, complexity, limits.introspection)
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
    }
}

/// The SDL of the schema (what `schema.graphql` holds).
pub fn sdl() -> String {
    let limits = LimitsConfig::default();
    builder(limits.max_depth, limits.max_complexity, true).finish().sdl()
}
