use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject};
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{Fragment, FragmentKind, FragmentOrigin},
    },
    service::fragments::{self, NewFragment, Revision},
};

#[derive(InputObject)]
pub struct AppendFragmentInput {
    pub session_id: Uuid,
    /// A step of the same session.
    pub step_id: Uuid,
    pub kind: FragmentKind,
    /// Who speaks (DIALOGUE and PARENTHETICAL only).
    pub character: Option<String>,
    pub content: String,
    /// NEW when omitted; EDIT is for people.
    pub origin: Option<FragmentOrigin>,
    pub agent_name: Option<String>,
    pub token_count: Option<i32>,
}

#[derive(InputObject)]
pub struct ReviseFragmentInput {
    pub id: Uuid,
    /// The `version` you revised: a stale one gets `CONFLICT`.
    pub version: i32,
    pub content: String,
    /// REWRITE for agents and EDIT for people when omitted.
    pub origin: Option<FragmentOrigin>,
    /// Null clears it; omit to keep it.
    pub character: MaybeUndefined<String>,
    pub agent_name: Option<String>,
    pub token_count: Option<i32>,
}

#[derive(SimpleObject)]
pub struct FragmentPayload {
    pub fragment: Fragment,
}

#[derive(SimpleObject)]
pub struct DeleteFragmentPayload {
    pub deleted_fragment_id: Uuid,
    pub step_id: Uuid,
}

#[derive(Default)]
pub struct FragmentMutation;

#[Object]
impl FragmentMutation {
    /// Appends a fragment at the end of a step.
    #[graphql(guard = "Allow(Action::WriteFragments)")]
    async fn append_fragment(
        &self,
        ctx: &Context<'_>,
        input: AppendFragmentInput,
    ) -> async_graphql::Result<FragmentPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let fragment = fragments::append(
            &*tx,
            &caller,
            NewFragment {
                session_id: input.session_id,
                step_id: input.step_id,
                kind: input.kind.into(),
                character: input.character,
                content: input.content,
                origin: input.origin.map(Into::into),
                agent_name: input.agent_name,
                token_count: input.token_count,
            },
        )
        .await?;
        ctx.scope().note_change("fragment", fragment.id, None, Some(&fragment));
        Ok(FragmentPayload {
            fragment: fragment.into(),
        })
    }

    /// Writes a new version of a fragment; the previous one is kept in `versions`.
    #[graphql(guard = "Allow(Action::WriteFragments)")]
    async fn revise_fragment(
        &self,
        ctx: &Context<'_>,
        input: ReviseFragmentInput,
    ) -> async_graphql::Result<FragmentPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let character = match input.character {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        let (before, fragment) = fragments::revise(
            &*tx,
            &caller,
            Revision {
                id: input.id,
                version: input.version,
                content: input.content,
                origin: input.origin.map(Into::into),
                character,
                agent_name: input.agent_name,
                token_count: input.token_count,
            },
        )
        .await?;
        ctx.scope()
            .note_change("fragment", fragment.id, Some(&before), Some(&fragment));
        Ok(FragmentPayload {
            fragment: fragment.into(),
        })
    }

    /// Deletes a fragment and its versions; later fragments of its step move up.
    #[graphql(guard = "Allow(Action::WriteFragments)")]
    async fn delete_fragment(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<DeleteFragmentPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let fragment = fragments::delete(&*tx, &caller, id).await?;
        ctx.scope().note_change("fragment", id, Some(&fragment), None);
        Ok(DeleteFragmentPayload {
            deleted_fragment_id: id,
            step_id: fragment.step_id,
        })
    }
}
