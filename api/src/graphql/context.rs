//! Typed access from resolvers to the operation's scope and the server's
//! state, never `ctx.data().unwrap()`.

use std::sync::Arc;

use async_graphql::Context;

use super::loaders::Loaders;
use crate::{
    auth::Principal,
    request::scope::RequestScope,
    state::{AppState, SharedState},
};

/// Typed access to request and schema data.
pub trait ContextExt {
    fn app(&self) -> &AppState;
    fn shared_app(&self) -> SharedState;
    fn scope(&self) -> &RequestScope;
    fn principal(&self) -> &Principal;
    /// The operation's DataLoaders (one set per operation).
    fn loaders(&self) -> Arc<Loaders>;
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &AppState {
        self.data_unchecked::<SharedState>()
    }

    fn shared_app(&self) -> SharedState {
        self.data_unchecked::<SharedState>().clone()
    }

    fn scope(&self) -> &RequestScope {
        self.data_unchecked::<Arc<RequestScope>>()
    }

    fn principal(&self) -> &Principal {
        self.scope().principal()
    }

    fn loaders(&self) -> Arc<Loaders> {
        self.data_unchecked::<Arc<Loaders>>().clone()
    }
}
