//! Status and kind enums, stored as text and checked by the database.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $value)] $variant),+
        }

        impl $name {
            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $value),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($value => Ok(Self::$variant),)+
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }
    };
}

text_enum!(
    /// Whether a tenant may use the service.
    TenantStatus { Active = "active", Suspended = "suspended" }
);
text_enum!(
    /// A tenant's commercial plan.
    TenantPlan { Free = "free", Pro = "pro", Enterprise = "enterprise" }
);
text_enum!(
    /// The role of a user inside its tenant.
    UserRole {
        TenantAdmin = "tenant_admin",
        Member = "member",
        Viewer = "viewer",
        /// A service account for agent workers.
        Agent = "agent",
    }
);
text_enum!(
    /// Whether a user may sign in and act.
    UserStatus { Active = "active", Disabled = "disabled" }
);
text_enum!(
    /// Archived workspaces are read only.
    WorkspaceStatus { Active = "active", Archived = "archived" }
);
text_enum!(
    /// The lifecycle of a screenplay session, derived from its steps.
    SessionStatus {
        Planning = "planning",
        Generating = "generating",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);
text_enum!(
    /// The lifecycle of one outline step.
    StepStatus {
        Pending = "pending",
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Skipped = "skipped",
    }
);
text_enum!(
    /// The screenplay element a fragment holds.
    FragmentKind {
        SceneHeading = "scene_heading",
        Action = "action",
        Character = "character",
        Dialogue = "dialogue",
        Parenthetical = "parenthetical",
        Transition = "transition",
        Note = "note",
    }
);
text_enum!(
    /// How a fragment version came to be.
    FragmentOrigin {
        New = "new",
        Continue = "continue",
        Rewrite = "rewrite",
        /// Edited by a person.
        Edit = "edit",
    }
);
text_enum!(
    /// How a document was retrieved.
    RetrievalMethod { Vector = "vector", Keyword = "keyword", Hybrid = "hybrid" }
);
text_enum!(
    /// The outcome of an agent action.
    ExecutionStatus {
        Started = "started",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);
text_enum!(
    /// The outcome of an LLM call.
    LlmCallStatus { Succeeded = "succeeded", Failed = "failed" }
);
text_enum!(
    /// The outcome of an audited request.
    AuditOutcome { Ok = "ok", Error = "error" }
);
text_enum!(
    /// What a quota_usage row counts.
    QuotaMetric {
        Requests = "requests",
        Mutations = "mutations",
        SearchQueries = "search_queries",
        DocumentsIngested = "documents_ingested",
        EmbeddingTokens = "embedding_tokens",
        LlmTokens = "llm_tokens",
        LlmCost = "llm_cost",
    }
);
