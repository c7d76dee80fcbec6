//! Objects whose plain fields are ready at once, resolved without a future
//! per field.
//!
//! async-graphql resolves every field of an object through a boxed future,
//! collected into a growing `Vec` and an `IndexMap` grown field by field.
//! A nested session page has ~6,000 such fields, nearly all a column of a
//! row already in memory; `perf` put resolving the fragments' fields at a
//! fifth of the page's CPU. [`Ready`] wraps such an object: a selection of
//! plain fields (no fragment spread, no directive, each response key once)
//! is read straight from [`ReadyFields::ready`], and any other field of it
//! through the object's own resolver, in order; anything else takes
//! async-graphql's general path. The schema does not change: `Ready<T>` is
//! `T` to GraphQL. Only for objects without field guards or field-level
//! visibility, and only while the schema registers no extension
//! (`graphql/schema.rs`): the fast path runs neither guards nor an
//! extension's per-field `resolve` hook.

use std::borrow::Cow;

use futures::future::BoxFuture;

use async_graphql::{
    ContainerType, ContextSelectionSet, OutputType, Positioned, ScalarType, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
};

/// An object some of whose fields are values in memory.
pub trait ReadyFields: ContainerType + Sync {
    /// The value of the field `name` (its GraphQL name), when it is a plain
    /// value of the object; `None` resolves it through the object's resolver.
    fn ready(&self, name: &str) -> Option<Value>;
}

/// `T`, resolved field by field without a future per ready field.
#[derive(Clone)]
pub struct Ready<T>(pub T);

impl<T> Ready<T> {
    /// Every item, wrapped.
    pub fn all(items: impl IntoIterator<Item = T>) -> Vec<Ready<T>> {
        items.into_iter().map(Ready).collect()
    }
}

impl<T: ReadyFields + OutputType> OutputType for Ready<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(&self, ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> ServerResult<Value> {
        if !plain_fields(ctx) {
            return self.0.resolve(ctx, field).await;
        }
        let items = &ctx.item.node.items;
        let mut out = IndexMap::with_capacity(items.len());
        for f in items.iter().filter_map(as_field) {
            let name = f.node.name.node.as_str();
            let value = if name == "__typename" {
                Value::String(self.0.introspection_type_name().into_owned())
            } else if let Some(value) = self.0.ready(name) {
                value
            } else {
                // Boxed, as async-graphql boxes every field: a type whose
                // fields hold itself (a step's children) needs the future's
                // type erased. A failed field is left out, its error kept.
                let ctx_field = ctx.with_field(f);
                let resolving: BoxFuture<'_, ServerResult<Option<Value>>> = Box::pin(self.0.resolve_field(&ctx_field));
                match resolving.await {
                    Ok(value) => value.unwrap_or_default(),
                    Err(e) => {
                        ctx.add_error(e);
                        continue;
                    }
                }
            };
            out.insert(f.node.response_key().node.clone(), value);
        }
        Ok(if out.is_empty() {
            Value::Null
        } else {
            Value::Object(out)
        })
    }
}

/// Whether the selection is only plain fields, each response key once.
/// Checked per object without allocating: a list's items share the selection.
fn plain_fields(ctx: &ContextSelectionSet<'_>) -> bool {
    let items = &ctx.item.node.items;
    items.iter().enumerate().all(|(i, selection)| {
        as_field(selection).is_some_and(|f| {
            let key = &f.node.response_key().node;
            f.node.directives.is_empty()
                && !items[..i]
                    .iter()
                    .filter_map(as_field)
                    .any(|g| g.node.response_key().node == *key)
        })
    })
}

fn as_field(selection: &Positioned<Selection>) -> Option<&Positioned<Field>> {
    match &selection.node {
        Selection::Field(f) => Some(f),
        _ => None,
    }
}

/// A scalar's value, as its GraphQL type writes it.
pub fn scalar<S: ScalarType>(value: &S) -> Value {
    value.to_value()
}

/// An optional scalar's value (null when absent).
pub fn optional<S: ScalarType>(value: Option<&S>) -> Value {
    value.map_or(Value::Null, ScalarType::to_value)
}

/// A string's value.
pub fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// An optional string's value (null when absent).
pub fn optional_text(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}
