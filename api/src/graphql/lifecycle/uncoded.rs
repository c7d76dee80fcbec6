//! Errors async-graphql raises itself carry no `extensions.code`. The one
//! kind clients cause, a value that does not parse as its scalar (a
//! malformed UUID, an Int out of range), becomes `BAD_USER_INPUT` naming
//! the argument (and the variable it came from); a request that names an
//! operation the document does not define, or sends a subscription over
//! HTTP, is `BAD_REQUEST`; anything else gets the code its caller names
//! (`GRAPHQL_VALIDATION_FAILED` before execution, `INTERNAL` after).

use async_graphql::{
    Pos, ServerError,
    parser::types::{ExecutableDocument, Field, Selection, SelectionSet},
};

use crate::error::{ErrorCode, with_code};

/// Gives each error without a code one; `query` is the operation's text,
/// `otherwise` the code of an error that is none of the kinds above.
pub fn code_errors(errors: &mut [ServerError], query: &str, otherwise: ErrorCode) {
    if errors
        .iter()
        .all(|e| e.extensions.as_ref().is_some_and(|x| x.get("code").is_some()))
    {
        return;
    }
    // Parsed again only now, when there is an error to explain.
    let document = async_graphql::parser::parse_query(query).ok();
    for err in errors.iter_mut() {
        if err.extensions.as_ref().is_some_and(|x| x.get("code").is_some()) {
            continue;
        }
        let request_error = [
            "Unknown operation named",
            "Operation name required",
            "Subscriptions are not supported",
        ]
        .iter()
        .any(|start| err.message.starts_with(start));
        if request_error {
            *err = with_code(err.clone(), ErrorCode::BadRequest);
            continue;
        }
        let parse_failure = err.message.starts_with("Failed to parse");
        let argument = document
            .as_ref()
            .zip(err.locations.first())
            .and_then(|(doc, pos)| argument_at(doc, *pos));
        match (parse_failure, argument) {
            (true, Some((name, variable))) => name_argument(err, &name, variable.as_deref()),
            (true, None) => *err = with_code(err.clone(), ErrorCode::BadUserInput),
            (false, _) => *err = with_code(err.clone(), otherwise),
        }
    }
}

/// `BAD_USER_INPUT` with `field` (and `variable`) set and both in the message.
fn name_argument(err: &mut ServerError, name: &str, variable: Option<&str>) {
    err.message = match variable {
        Some(v) => format!("`{name}` (variable `${v}`) is not valid: {}", err.message),
        None => format!("`{name}` is not valid: {}", err.message),
    };
    let extensions = err.extensions.get_or_insert_with(Default::default);
    extensions.set("code", ErrorCode::BadUserInput.as_str());
    extensions.set("field", name);
    if let Some(v) = variable {
        extensions.set("variable", v);
    }
}

/// The argument whose value sits at `pos`: its name, and its variable.
fn argument_at(document: &ExecutableDocument, pos: Pos) -> Option<(String, Option<String>)> {
    let sets = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(document.fragments.values().map(|f| &f.node.selection_set.node));
    for set in sets {
        if let Some(found) = in_selection_set(set, pos) {
            return Some(found);
        }
    }
    None
}

fn in_selection_set(set: &SelectionSet, pos: Pos) -> Option<(String, Option<String>)> {
    set.items.iter().find_map(|item| match &item.node {
        // Computing a list's cost parses its size argument, and reports a
        // failure at the field: the argument is the literal that is no Int.
        Selection::Field(field) if field.pos == pos => out_of_range_argument(&field.node),
        Selection::Field(field) => in_field(&field.node, pos),
        Selection::InlineFragment(fragment) => in_selection_set(&fragment.node.selection_set.node, pos),
        Selection::FragmentSpread(_) => None,
    })
}

fn in_field(field: &Field, pos: Pos) -> Option<(String, Option<String>)> {
    let own = field.arguments.iter().find_map(|(name, value)| {
        (value.pos == pos || name.pos == pos).then(|| {
            // A variable displays as `$name` (a string value is quoted).
            let variable = value.node.to_string().strip_prefix('$').map(str::to_owned);
            (name.node.to_string(), variable)
        })
    });
    own.or_else(|| in_selection_set(&field.selection_set.node, pos))
}

/// The one argument of `field` whose literal is a number outside Int.
fn out_of_range_argument(field: &Field) -> Option<(String, Option<String>)> {
    let mut found = field
        .arguments
        .iter()
        .filter(|(_, value)| match value.node.clone().into_const() {
            Some(async_graphql::Value::Number(n)) => n.as_i64().is_none_or(|n| i32::try_from(n).is_err()),
            _ => false,
        });
    match (found.next(), found.next()) {
        (Some((name, _)), None) => Some((name.node.to_string(), None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Value;

    use super::*;

    #[test]
    fn a_bad_scalar_names_its_argument_and_variable() {
        let query = "query($id: UUID!) { workspace(id: $id) { id } }";
        let mut errors = vec![ServerError::new(
            "Failed to parse \"UUID\": invalid character",
            Some(Pos { line: 1, column: 35 }),
        )];
        code_errors(&mut errors, query, ErrorCode::Internal);
        let ext = errors[0].extensions.as_ref().expect("extensions");
        assert_eq!(ext.get("code"), Some(&Value::from("BAD_USER_INPUT")));
        assert_eq!(ext.get("field"), Some(&Value::from("id")));
        assert_eq!(ext.get("variable"), Some(&Value::from("id")));
        assert!(errors[0].message.starts_with("`id` (variable `$id`) is not valid"));
    }

    #[test]
    fn other_errors_without_a_code_get_the_code_named() {
        for code in [ErrorCode::Internal, ErrorCode::GraphqlValidationFailed] {
            let mut errors = vec![ServerError::new("something else", None)];
            code_errors(&mut errors, "{ me { role } }", code);
            let ext = errors[0].extensions.as_ref().expect("extensions");
            assert_eq!(ext.get("code"), Some(&Value::from(code.as_str())));
        }
    }
}
