//! Counts and times GraphQL operations (HTTP and websocket), called by the
//! lifecycle when an operation ends.

use std::time::Duration;

use async_graphql::{Response, parser::types::OperationType};

use crate::{error::code_of, metrics::observe_operation};

/// More root fields than this are labelled `(multiple)`.
const MAX_FIELDS_IN_LABEL: usize = 3;

fn type_label(ty: Option<OperationType>) -> &'static str {
    match ty {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The root fields, sorted: bounded by the schema, unlike operation names.
fn operation_label(fields: &[String]) -> String {
    let mut fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    fields.sort_unstable();
    fields.dedup();
    match fields.len() {
        0 => "(none)".into(),
        n if n > MAX_FIELDS_IN_LABEL => "(multiple)".into(),
        _ => fields.join(","),
    }
}

fn outcome(response: &Response) -> String {
    match response.errors.first() {
        None => "ok".into(),
        Some(err) => code_of(err).as_str().into(),
    }
}

/// Records an operation of type `ty` with root `fields` that ended with
/// `response` after `elapsed` (`ty` unknown: it never parsed).
pub fn observe(ty: Option<OperationType>, fields: &[String], response: &Response, elapsed: Duration) {
    let (ty, operation) = match ty {
        None => ("unknown", "(invalid)".to_owned()),
        Some(OperationType::Subscription) => return,
        ty => (type_label(ty), operation_label(fields)),
    };
    observe_operation(ty, &operation, &outcome(response), elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        let f = |v: &[&str]| operation_label(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(f(&["workspaces", "me"]), "me,workspaces");
        assert_eq!(f(&["me", "me"]), "me");
        assert_eq!(f(&["a", "b", "c", "d"]), "(multiple)");
        assert_eq!(f(&[]), "(none)");
    }
}
