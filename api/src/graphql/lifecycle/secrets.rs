//! Which inputs are secrets, and keeping them out of the audit log.
//!
//! A secret is decided by where a value goes in the schema, not by what the
//! client called its variable: `mutation($pwd: String!) { login(input:
//! {password: $pwd, …}) }` puts `$pwd` in `LoginInput.password`, so `$pwd`
//! is redacted. The operation's document is walked (every operation and
//! fragment, so spreads are covered), and each variable used at a secret
//! argument or input-object field, directly or nested in lists and input
//! objects, is replaced by `[REDACTED]` whatever its name. Values of
//! input-object variables are redacted by their keys, which are the schema's
//! field names. Literals written into the document itself stay in the
//! query text, which the audit log does not store.
//!
//! The list below is the one place that names secret inputs; a test reads
//! `schema.graphql` and fails when an input field or argument that looks
//! secret is missing from it.

use std::collections::HashSet;

use async_graphql::{
    Variables,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use async_graphql_value::{ConstValue, Value};

use crate::audit::diff;

/// Arguments and input-object fields whose values are secrets, by their
/// schema name: `LoginInput.password`, `CreateUserInput.password`,
/// `CreateTenantInput.adminPassword`, `RefreshTokenInput.refreshToken`,
/// `LogoutInput.refreshToken`, and names kept for inputs to come.
pub const SECRET_INPUT_FIELDS: &[&str] = &[
    "password",
    "adminPassword",
    "newPassword",
    "currentPassword",
    "oldPassword",
    "refreshToken",
    "accessToken",
    "idToken",
    "token",
    "apiKey",
    "secret",
    "clientSecret",
];

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Whether an argument or input-object field of the schema holds a secret.
pub fn is_secret_input(name: &str) -> bool {
    SECRET_INPUT_FIELDS.contains(&name)
}

/// The variables as the audit log keeps them. With the parsed `document`:
/// each variable that reaches a secret input anywhere in it is redacted
/// whole, and the others have secret keys redacted at any depth. Without
/// one (the document did not parse or was refused before parsing), where
/// each value goes is unknown: every value is redacted, names are kept.
pub fn redact_variables(variables: &Variables, document: Option<&ExecutableDocument>) -> serde_json::Value {
    let Some(document) = document else {
        let names = variables
            .keys()
            .map(|name| (diff::storable(name), serde_json::Value::String(REDACTED.into())));
        return serde_json::Value::Object(names.collect());
    };
    let secret = secret_variables(document);
    let kept = variables.iter().map(|(name, value)| {
        let value = if secret.contains(name.as_str()) {
            serde_json::Value::String(REDACTED.into())
        } else {
            audit_value(value)
        };
        (diff::storable(name), value)
    });
    serde_json::Value::Object(kept.collect())
}

/// `value` as the audit log keeps it, in one pass: the value of every secret
/// input field and of every key the audit log never keeps (`diff::is_secret_key`,
/// which covers embeddings) replaced at any depth, and strings made storable.
/// A replaced value is never converted: a 1,536-float embedding costs nothing.
fn audit_value(value: &ConstValue) -> serde_json::Value {
    match value {
        ConstValue::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(key, field)| {
                    let kept = if is_secret_input(key) || diff::is_secret_key(key) {
                        serde_json::Value::String(REDACTED.into())
                    } else {
                        audit_value(field)
                    };
                    (diff::storable(key), kept)
                })
                .collect(),
        ),
        ConstValue::List(items) => serde_json::Value::Array(items.iter().map(audit_value).collect()),
        ConstValue::String(text) => serde_json::Value::String(diff::storable(text)),
        scalar => serde_json::to_value(scalar).unwrap_or_default(),
    }
}

/// Names of the variables used at a secret input anywhere in `document`:
/// every operation (a variable of another operation with the same name is
/// redacted too, which only errs on the safe side) and every fragment.
pub fn secret_variables(document: &ExecutableDocument) -> HashSet<&str> {
    let mut out = HashSet::new();
    for (_, operation) in document.operations.iter() {
        in_selection_set(&operation.node.selection_set.node, &mut out);
    }
    for fragment in document.fragments.values() {
        in_selection_set(&fragment.node.selection_set.node, &mut out);
    }
    out
}

fn in_selection_set<'a>(set: &'a SelectionSet, out: &mut HashSet<&'a str>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    in_value(&value.node, is_secret_input(name.node.as_str()), out);
                }
                in_selection_set(&field.node.selection_set.node, out);
            }
            Selection::InlineFragment(inline) => in_selection_set(&inline.node.selection_set.node, out),
            // Fragments are walked on their own, once each.
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Collects the variables in `value`; `secret` when `value` sits at a
/// secret input (then everything inside it is secret too).
fn in_value<'a>(value: &'a Value, secret: bool, out: &mut HashSet<&'a str>) {
    match value {
        Value::Variable(name) if secret => {
            out.insert(name.as_str());
        }
        Value::List(items) => items.iter().for_each(|item| in_value(item, secret, out)),
        Value::Object(fields) => {
            for (name, field) in fields {
                in_value(field, secret || is_secret_input(name.as_str()), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn redacted(query: &str, variables: serde_json::Value) -> serde_json::Value {
        let document = async_graphql::parser::parse_query(query).expect("query");
        redact_variables(&Variables::from_json(variables), Some(&document))
    }

    #[test]
    fn a_variable_at_a_secret_input_is_redacted_whatever_its_name() {
        let r = redacted(
            "mutation($pwd: String!, $who: String!) { login(input: {tenantSlug: \"t\", email: $who, password: $pwd}) { accessToken } }",
            json!({ "pwd": "hunter2", "who": "a@b.c" }),
        );
        assert_eq!(r, json!({ "pwd": REDACTED, "who": "a@b.c" }));
    }

    #[test]
    fn nested_lists_objects_and_fragments_are_followed() {
        let r = redacted(
            "query Q($a: String, $b: String, $c: String, $d: String) { ...F }
             fragment F on Query { x(input: {items: [{secret: [$a]}], deeper: {apiKey: {v: $b}}}) { ... on T { y(token: $c, other: $d) } } }",
            json!({ "a": "s1", "b": "s2", "c": "s3", "d": "plain" }),
        );
        assert_eq!(r, json!({ "a": REDACTED, "b": REDACTED, "c": REDACTED, "d": "plain" }));
    }

    #[test]
    fn input_object_variables_are_redacted_by_field_name() {
        let r = redacted(
            "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }",
            json!({ "i": { "slug": "s", "adminPassword": "hunter2", "limits": [{ "clientSecret": "x" }] } }),
        );
        assert_eq!(
            r,
            json!({ "i": { "slug": "s", "adminPassword": REDACTED, "limits": [{ "clientSecret": REDACTED }] } })
        );
    }

    #[test]
    fn embeddings_are_not_kept_and_strings_are_storable() {
        let r = redacted(
            "query($i: SearchDocumentsInput!) { searchDocuments(input: $i) { score } }",
            json!({ "i": { "embedding": [0.1, 0.2], "query": "a\u{0}b", "limit": 3 } }),
        );
        assert_eq!(
            r,
            json!({ "i": { "embedding": REDACTED, "query": "a\u{FFFD}b", "limit": 3 } })
        );
    }

    #[test]
    fn without_a_document_every_value_is_redacted() {
        let r = redact_variables(&Variables::from_json(json!({ "pwd": "hunter2", "n": 1 })), None);
        assert_eq!(r, json!({ "pwd": REDACTED, "n": REDACTED }));
    }
}
