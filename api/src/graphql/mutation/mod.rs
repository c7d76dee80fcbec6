//! Mutation roots, one per domain, merged. Each mutation takes one `input`
//! object and returns a payload type.

use async_graphql::MergedObject;

/// The Mutation type.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(Placeholder);

#[derive(Default)]
pub struct Placeholder;

#[async_graphql::Object]
impl Placeholder {
    async fn placeholder(&self) -> bool {
        true
    }
}
