//! Query roots, one per domain, merged.

mod health;

use async_graphql::MergedObject;

pub use health::HealthQuery;

/// The Query type.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(HealthQuery);
