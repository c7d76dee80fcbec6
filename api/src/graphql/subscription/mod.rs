//! Subscription roots, one per domain, merged. Subscriptions run over
//! `graphql-transport-ws` at `/graphql/ws` (see `http::ws`) and must not hold
//! the operation's transaction open for their lifetime: they check access
//! with a `request::ShortTx` of their own and then wait for events.

mod documents;
mod sessions;

use async_graphql::MergedSubscription;

/// The Subscription type.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(sessions::SessionSubscription, documents::DocumentSubscription);
