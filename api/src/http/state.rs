//! What the HTTP handlers share.

use crate::{graphql::Schemas, runtime::ShutdownSignal, state::SharedState};

/// State of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    pub app: SharedState,
    pub schemas: Schemas,
    /// Fires when the server stops (open websockets close on it).
    pub shutdown: ShutdownSignal,
}
