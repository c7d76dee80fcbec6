//! What a document may cost, checked on the parsed document before any
//! validation visitor runs: its size, operations, fragments, and the fields,
//! aliases, root fields and depth it expands to with every fragment spread
//! in place. The expansion is counted once per fragment (memoised), so a
//! document that doubles its size with every level of spreads (a "fragment
//! bomb") is refused in time linear in its text, where walking every spread
//! path (as validation does) takes time exponential in its depth.

use std::collections::HashMap;

use async_graphql::{
    Positioned, ServerError,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::{
    config::OperationLimits,
    error::{ErrorCode, with_code},
};

/// A request the gate refused: the lifecycle answers with this error
/// instead of parsing the document.
#[derive(Debug, Clone)]
pub struct Refused(pub ServerError);

/// Root fields an operation may select only once: each is a password check
/// or a token exchange, so aliasing them would multiply guesses per request.
const ONCE_PER_OPERATION: [&str; 3] = ["login", "refreshToken", "logout"];

/// What a selection set expands to.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    fields: u64,
    aliases: u64,
    depth: u64,
}

impl Cost {
    fn add(self, other: Cost) -> Cost {
        Cost {
            fields: self.fields.saturating_add(other.fields),
            aliases: self.aliases.saturating_add(other.aliases),
            depth: self.depth.max(other.depth),
        }
    }
}

/// Refuses `query` (before parsing) when longer than the limit.
pub fn check_size(query: &str, limits: &OperationLimits) -> Result<(), ServerError> {
    if query.len() > limits.max_bytes {
        return Err(refusal(
            "max_bytes",
            limits.max_bytes,
            &format!(
                "the document is {} bytes; at most {} are accepted",
                query.len(),
                limits.max_bytes
            ),
        ));
    }
    Ok(())
}

/// Brackets (`{`, `[`, `(`) a document may nest: the parser refuses
/// deeper documents anyway, but only after recursing that deep.
const MAX_NESTING: usize = 64;

/// Refuses (before parsing) a document nested deeper than any parse allows.
pub fn check_nesting(query: &str) -> Result<(), ServerError> {
    let text = query.as_bytes();
    let (mut i, mut depth) = (0usize, 0usize);
    while i < text.len() {
        match text[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            b'#' => i = comment_end(text, i),
            b'"' => i = string_end(text, i),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(refusal(
                "max_depth",
                MAX_NESTING,
                &format!("the document nests brackets more than {MAX_NESTING} deep"),
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Index of the last byte of the comment that starts at `start`.
fn comment_end(text: &[u8], start: usize) -> usize {
    text[start..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(text.len(), |n| start + n)
}

/// Index of the closing quote of the string (or block string) that starts
/// at `start`, or the end of the text.
fn string_end(text: &[u8], start: usize) -> usize {
    let block = text[start..].starts_with(b"\"\"\"");
    let mut i = start + if block { 3 } else { 1 };
    while i < text.len() {
        let rest = &text[i..];
        match (block, rest[0]) {
            (true, _) if rest.starts_with(b"\\\"\"\"") => i += 3,
            (true, _) if rest.starts_with(b"\"\"\"") => return i + 2,
            (false, b'\\') => i += 1,
            (false, b'"') => return i,
            _ => {}
        }
        i += 1;
    }
    text.len()
}

/// Refuses a parsed document whose expansion exceeds `limits`.
pub fn check(document: &ExecutableDocument, limits: &OperationLimits) -> Result<(), ServerError> {
    let operations = document.operations.iter().count();
    if operations > limits.max_operations {
        return Err(refusal(
            "max_operations",
            limits.max_operations,
            &format!(
                "the document holds {operations} operations; at most {} are accepted",
                limits.max_operations
            ),
        ));
    }
    if document.fragments.len() > limits.max_fragments {
        return Err(refusal(
            "max_fragments",
            limits.max_fragments,
            &format!(
                "the document defines {} fragments; at most {} are accepted",
                document.fragments.len(),
                limits.max_fragments
            ),
        ));
    }
    let mut walk = Walk {
        document,
        limits,
        memo: HashMap::new(),
        visiting: Vec::new(),
    };
    for (_, operation) in document.operations.iter() {
        let set = &operation.node.selection_set;
        let mut roots = Vec::new();
        walk.root_fields(set, &mut roots)?;
        let root_fields = roots.len();
        if root_fields > limits.max_root_fields {
            return Err(refusal(
                "max_root_fields",
                limits.max_root_fields,
                &format!(
                    "the operation selects {root_fields} root fields; at most {} are accepted",
                    limits.max_root_fields
                ),
            ));
        }
        let signing = roots.iter().filter(|r| ONCE_PER_OPERATION.contains(r)).count();
        if signing > 1 {
            return Err(refusal(
                "login_fields",
                1,
                "an operation may select only one of `login`, `refreshToken` and `logout`",
            ));
        }
        walk.selection_set(set)?;
    }
    Ok(())
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    limits: &'a OperationLimits,
    /// Cost of each fragment, counted once.
    memo: HashMap<&'a str, Cost>,
    /// Fragments being counted (a spread of one of these is a cycle).
    visiting: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<Cost, ServerError> {
        let mut cost = Cost::default();
        for item in &set.node.items {
            let item_cost = match &item.node {
                Selection::Field(field) => {
                    let children = self.selection_set(&field.node.selection_set)?;
                    Cost {
                        fields: 1 + children.fields,
                        aliases: u64::from(field.node.alias.is_some()) + children.aliases,
                        depth: 1 + children.depth,
                    }
                }
                Selection::InlineFragment(fragment) => self.selection_set(&fragment.node.selection_set)?,
                Selection::FragmentSpread(spread) => self.fragment(spread.node.fragment_name.node.as_str())?,
            };
            cost = cost.add(item_cost);
            self.within_limits(cost)?;
        }
        Ok(cost)
    }

    fn fragment(&mut self, name: &'a str) -> Result<Cost, ServerError> {
        if let Some(cost) = self.memo.get(name) {
            return Ok(*cost);
        }
        if self.visiting.contains(&name) {
            return Err(cycle(name));
        }
        // An unknown fragment costs nothing here; validation names it.
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Ok(Cost::default());
        };
        self.visiting.push(key.as_str());
        let cost = self.selection_set(&fragment.node.selection_set)?;
        self.visiting.pop();
        self.memo.insert(key.as_str(), cost);
        Ok(cost)
    }

    /// Names of the root fields of an operation, spreads and inline
    /// fragments at the root included (collected up to one past the limit).
    fn root_fields(&mut self, set: &'a Positioned<SelectionSet>, out: &mut Vec<&'a str>) -> Result<(), ServerError> {
        for item in &set.node.items {
            if out.len() > self.limits.max_root_fields {
                break;
            }
            match &item.node {
                Selection::Field(field) => out.push(field.node.name.node.as_str()),
                Selection::InlineFragment(fragment) => self.root_fields(&fragment.node.selection_set, out)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.visiting.contains(&name) {
                        return Err(cycle(name));
                    }
                    if let Some((key, fragment)) = self.document.fragments.get_key_value(name) {
                        self.visiting.push(key.as_str());
                        let found = self.root_fields(&fragment.node.selection_set, out);
                        self.visiting.pop();
                        found?;
                    }
                }
            }
        }
        Ok(())
    }

    fn within_limits(&self, cost: Cost) -> Result<(), ServerError> {
        let limits = self.limits;
        if cost.fields > limits.max_fields as u64 {
            return Err(refusal(
                "max_fields",
                limits.max_fields,
                &format!(
                    "the operation expands to more than {} fields (each fragment counted where it is spread)",
                    limits.max_fields
                ),
            ));
        }
        if cost.aliases > limits.max_aliases as u64 {
            return Err(refusal(
                "max_aliases",
                limits.max_aliases,
                &format!(
                    "the operation uses more than {} aliases (each fragment counted where it is spread)",
                    limits.max_aliases
                ),
            ));
        }
        if cost.depth > limits.max_depth as u64 {
            return Err(refusal(
                "max_depth",
                limits.max_depth,
                &format!("the operation is nested more than {} fields deep", limits.max_depth),
            ));
        }
        Ok(())
    }
}

/// A refused document: `GRAPHQL_VALIDATION_FAILED`, naming the limit (as
/// in `SCREENPLAY_LIMITS`) and its value in `extensions`.
fn refusal(limit: &str, max: usize, message: &str) -> ServerError {
    let mut err = ServerError::new(message, None);
    let extensions = err.extensions.get_or_insert_with(Default::default);
    extensions.set("limit", limit);
    extensions.set("max", max as u64);
    with_code(err, ErrorCode::GraphqlValidationFailed)
}

fn cycle(fragment: &str) -> ServerError {
    with_code(
        ServerError::new(format!("fragment `{fragment}` spreads itself"), None),
        ErrorCode::GraphqlValidationFailed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OperationLimits {
        OperationLimits::ANONYMOUS
    }

    fn bomb(levels: usize) -> String {
        let mut doc = String::from("query { me { ...F0 } }\n");
        for i in 0..levels {
            doc.push_str(&format!("fragment F{i} on Me {{ ...F{} ...F{} }}\n", i + 1, i + 1));
        }
        doc.push_str(&format!("fragment F{levels} on Me {{ subject }}\n"));
        doc
    }

    #[test]
    fn a_fragment_bomb_is_refused_at_once() {
        let doc = async_graphql::parser::parse_query(bomb(31)).expect("parses");
        let started = std::time::Instant::now();
        let err = check(&doc, &OperationLimits::SIGNED_IN).expect_err("refused");
        assert!(err.message.contains("expands to more than"), "{}", err.message);
        assert_eq!(
            err.extensions.and_then(|x| x.get("limit").cloned()),
            Some("max_fields".into())
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
    }

    #[test]
    fn aliases_count_where_they_are_spread() {
        let aliased: String = (0..5).map(|i| format!("a{i}: subject ")).collect();
        let doc =
            format!("query {{ me {{ ...A ...B }} }} fragment A on Me {{ {aliased} }} fragment B on Me {{ ...A ...A }}");
        let doc = async_graphql::parser::parse_query(doc).expect("parses");
        let err = check(&doc, &limits()).expect_err("15 aliases");
        assert!(err.message.contains("aliases"), "{}", err.message);
    }

    #[test]
    fn one_login_per_operation_even_through_fragments() {
        let doc = "mutation { a: login(input: $i) { accessToken } ...L } fragment L on MutationRoot { b: login(input: $i) { accessToken } }";
        let doc = async_graphql::parser::parse_query(doc).expect("parses");
        let err = check(&doc, &limits()).expect_err("two logins");
        assert!(err.message.contains("only one of `login`"), "{}", err.message);
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        let deep = format!("{}{}", "{ a ".repeat(65), "}".repeat(65));
        assert!(check_nesting(&deep).is_err());
        let shallow = format!("{}{}", "{ a ".repeat(64), "}".repeat(64));
        assert!(check_nesting(&shallow).is_ok());
        let quoted = format!(
            "{{ a(s: \"{0}\\\"{0}\", b: \"\"\"{0} \\\"\"\" \" {0}\"\"\") # {0}\n }}",
            "{".repeat(100)
        );
        check_nesting(&quoted).expect("brackets in strings and comments do not count");
    }

    #[test]
    fn ordinary_documents_pass() {
        let doc = async_graphql::parser::parse_query(
            "query A { me { role subject } } query B { health { status } } fragment X on Me { role }",
        )
        .expect("parses");
        check(&doc, &limits()).expect("fits");
    }
}
