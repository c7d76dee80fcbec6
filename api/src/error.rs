//! The one error type of the API, every code clients see in
//! `extensions.code`, and the one classifier of database errors.
//!
//! Services return [`AppError`]; resolvers turn it into a GraphQL error with
//! [`async_graphql::ErrorExtensions`]. Requests that never execute (syntax,
//! validation, bodies that are not GraphQL, persisted queries) get their code
//! from [`ErrorCode`] too, and [`code_of`] reads any error's code back.
//! Database errors are classified once, here ([`DbFailure`]): unique
//! violations become `CONFLICT`, check and foreign-key violations
//! `BAD_USER_INPUT`, serialization failures `CONFLICT`, statements stopped by
//! `statement_timeout` or `lock_timeout` (and a pool with no free connection
//! in time) `TIMEOUT` with a retry hint; anything unexpected is logged with
//! its detail and shown to the client as an opaque `INTERNAL`.

use async_graphql::{ErrorExtensions, ServerError, Value};
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, RuntimeErr};

/// Result alias used by services.
pub type AppResult<T> = Result<T, AppError>;

/// `NOT_FOUND` as an absent value: single-object lookups answer `null` for
/// a missing (or another tenant's) id rather than an error.
pub trait NotFoundAsNone<T> {
    fn optional(self) -> AppResult<Option<T>>;
}

impl<T> NotFoundAsNone<T> for AppResult<T> {
    fn optional(self) -> AppResult<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(AppError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// The stable error codes clients see in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    QuotaExceeded,
    RateLimited,
    /// The work took too long and was stopped: a statement or lock wait
    /// over its limit, no pool connection in time, or the request's own
    /// timeout; nothing was changed, and it may be retried.
    Timeout,
    /// The database cannot be reached (down, restarting, refusing
    /// connections); nothing was changed, and it may be retried.
    Unavailable,
    Internal,
    /// The document is not GraphQL.
    GraphqlParseFailed,
    /// The document does not fit the schema or the limits.
    GraphqlValidationFailed,
    /// The HTTP request is not a GraphQL request.
    BadRequest,
    /// An Automatic Persisted Query hash the server does not know (yet).
    PersistedQueryNotFound,
    /// Not an operation of the persisted-query manifest.
    PersistedQueryNotAllowed,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        Self::Unauthenticated,
        Self::Forbidden,
        Self::NotFound,
        Self::BadUserInput,
        Self::Conflict,
        Self::QuotaExceeded,
        Self::RateLimited,
        Self::Timeout,
        Self::Unavailable,
        Self::Internal,
        Self::GraphqlParseFailed,
        Self::GraphqlValidationFailed,
        Self::BadRequest,
        Self::PersistedQueryNotFound,
        Self::PersistedQueryNotAllowed,
    ];

    /// The code of a wire form.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Codes of requests refused before execution (their answers carry no `data`).
    pub fn is_request_error(self) -> bool {
        matches!(
            self,
            Self::GraphqlParseFailed
                | Self::GraphqlValidationFailed
                | Self::BadRequest
                | Self::PersistedQueryNotFound
                | Self::PersistedQueryNotAllowed
        )
    }

    /// A request-level error (no path) with this code.
    pub fn error(self, message: &str) -> ServerError {
        with_code(ServerError::new(message, None), self)
    }

    /// The wire form, e.g. `NOT_FOUND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::RateLimited => "RATE_LIMITED",
            Self::Timeout => "TIMEOUT",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::BadRequest => "BAD_REQUEST",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
        }
    }
}

/// The code of an error as the client sees it; an error without one (which
/// should not happen) counts as `INTERNAL`.
pub fn code_of(err: &ServerError) -> ErrorCode {
    match err.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(Value::String(code)) => ErrorCode::parse(code).unwrap_or(ErrorCode::Internal),
        _ => ErrorCode::Internal,
    }
}

/// `err` with `code`, unless it already has one.
pub fn with_code(mut err: ServerError, code: ErrorCode) -> ServerError {
    let extensions = err.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code.as_str());
    }
    err
}

/// Details of a refused quota, sent to the client in `extensions`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaDetail {
    pub metric: &'static str,
    pub limit: f64,
    pub usage: f64,
    /// `None` for limits that do not reset (maximum documents).
    pub resets_at: Option<DateTime<Utc>>,
}

/// Everything a service can fail with.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error
/// into a GraphQL error *without* an `extensions.code`, so `?` in a resolver
/// must go through [`From<AppError>`] below, which sets it.
#[derive(Debug)]
pub enum AppError {
    Unauthenticated(String),
    Forbidden(String),
    /// Missing, or belonging to another tenant: the two are indistinguishable.
    NotFound {
        what: &'static str,
    },
    BadInput {
        field: String,
        message: String,
    },
    Conflict(String),
    QuotaExceeded(QuotaDetail),
    RateLimited {
        retry_after_seconds: u64,
    },
    /// Stopped for taking too long (see [`TimeoutReason`]); retry later.
    Timeout(TimeoutReason),
    /// The database cannot be reached; retry later.
    Unavailable,
    Internal(anyhow::Error),
}

/// What ran out of time; clients see it as `extensions.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReason {
    /// A statement ran longer than `SCREENPLAY_STATEMENT_TIMEOUT`.
    Statement,
    /// A row or table lock was not granted within `SCREENPLAY_LOCK_TIMEOUT`.
    Lock,
    /// No pool connection came free in time.
    Pool,
    /// The whole request ran longer than `SCREENPLAY_REQUEST_TIMEOUT` (HTTP 408).
    Request,
    /// The server is shutting down and its grace period is over.
    Shutdown,
}

impl TimeoutReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Statement => "statement",
            Self::Lock => "lock",
            Self::Pool => "pool",
            Self::Request => "request",
            Self::Shutdown => "shutdown",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Statement => "a database statement took too long and was cancelled; nothing was changed, retry later",
            Self::Lock => "the data is locked by other work; nothing was changed, retry later",
            Self::Pool => "the server is busy (no database connection free); nothing was changed, retry later",
            Self::Request => "the request took too long and was cancelled; nothing was changed, retry later",
            Self::Shutdown => "the server is shutting down; nothing was changed, retry on another instance",
        }
    }
}

/// The retry hint of a `TIMEOUT`, in seconds.
const TIMEOUT_RETRY_AFTER_SECONDS: u64 = 1;

/// The retry hint of `UNAVAILABLE`, in seconds: about how often the server
/// tries the database again.
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;

impl AppError {
    /// A `BAD_USER_INPUT` error that names the offending input field.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Vectors of a model other than the workspace's (`check_embedding_model`
    /// says why in the same words).
    pub fn other_embedding_model(why: &str) -> Self {
        Self::bad_input(
            "embeddingModel",
            format!("{why}; a workspace holds vectors of one model"),
        )
    }

    pub fn not_found(what: &'static str) -> Self {
        Self::NotFound { what }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict(message.into())
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// `RATE_LIMITED`, to be retried after `wait` (in whole seconds, up).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        Self::RateLimited {
            retry_after_seconds: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        }
    }

    /// The message clients see; internal errors say nothing more.
    pub fn message(&self) -> String {
        match self {
            Self::Unauthenticated(m) | Self::Forbidden(m) | Self::Conflict(m) => m.clone(),
            Self::NotFound { what } => format!("{what} not found"),
            Self::BadInput { message, .. } => message.clone(),
            Self::QuotaExceeded(q) => match q.resets_at {
                Some(at) => format!(
                    "{} quota exceeded: {} of {} used; resets at {}",
                    q.metric,
                    q.usage,
                    q.limit,
                    at.to_rfc3339()
                ),
                None => format!("{} quota exceeded: {} of {} used", q.metric, q.usage, q.limit),
            },
            Self::RateLimited { retry_after_seconds } => {
                format!("rate limit exceeded; retry in {retry_after_seconds} s")
            }
            Self::Timeout(reason) => reason.message().into(),
            Self::Unavailable => "the database cannot be reached; nothing was changed, retry later".into(),
            Self::Internal(_) => "internal error".into(),
        }
    }

    /// This error as a request-level GraphQL error (no path).
    pub fn to_server_error(&self) -> ServerError {
        let mut err = self.extend().into_server_error(async_graphql::Pos::default());
        // No place in the document: `locations` would say line 0, column 0,
        // which the spec does not allow (they count from 1).
        err.locations.clear();
        err
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::BadInput { .. } => ErrorCode::BadUserInput,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::QuotaExceeded(_) => ErrorCode::QuotaExceeded,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Timeout(_) => ErrorCode::Timeout,
            Self::Unavailable => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        classify_db_error(err)
    }
}

/// SQLSTATE codes we map to client errors.
mod sqlstate {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const FOREIGN_KEY_VIOLATION: &str = "23503";
    pub const CHECK_VIOLATION: &str = "23514";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const STRING_TOO_LONG: &str = "22001";
    /// A NUL byte in text (PostgreSQL text cannot hold one).
    pub const CHARACTER_NOT_IN_REPERTOIRE: &str = "22021";
    /// `\u0000` in jsonb.
    pub const UNTRANSLATABLE_CHARACTER: &str = "22P05";
    pub const RLS_VIOLATION: &str = "42501";
    /// `statement_timeout` (or a cancel request).
    pub const QUERY_CANCELED: &str = "57014";
    /// `lock_timeout` (or `NOWAIT`).
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    /// The server is shutting down, crashed or is still starting.
    pub const SHUTTING_DOWN: [&str; 3] = ["57P01", "57P02", "57P03"];
    pub const TOO_MANY_CONNECTIONS: &str = "53300";
    /// Class 08: connection exceptions.
    pub const CONNECTION_EXCEPTION_CLASS: &str = "08";
}

/// The database could not be reached or dropped the connection (as opposed
/// to refusing a statement): nothing was done, and a later retry may work.
pub fn is_unreachable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::ConnectionClosed) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => is_unreachable_sqlx(e),
        _ => false,
    }
}

/// [`is_unreachable`] for a driver error.
pub fn is_unreachable_sqlx(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::PoolClosed | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => db.code().is_some_and(|code| {
            code.starts_with(sqlstate::CONNECTION_EXCEPTION_CLASS)
                || code == sqlstate::TOO_MANY_CONNECTIONS
                || sqlstate::SHUTTING_DOWN.contains(&&*code)
        }),
        _ => false,
    }
}

/// What the database said when it refused a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFailure {
    pub sqlstate: String,
    pub constraint: Option<String>,
    pub message: String,
}

impl DbFailure {
    /// The database's own error behind `err`; `None` when the statement never
    /// got an answer (connection lost, pool timeout, decoding).
    pub fn of(err: &DbErr) -> Option<Self> {
        let db = match err {
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e.as_database_error()?,
            _ => return None,
        };
        Some(Self {
            sqlstate: db.code().map(|c| c.into_owned()).unwrap_or_default(),
            constraint: db.constraint().map(str::to_owned),
            message: db.message().to_owned(),
        })
    }

    /// The data itself was refused (a data exception, or a named
    /// constraint): sending it again cannot help. A missing partition is
    /// 23514 without a constraint name, which maintenance will fix.
    pub fn refuses_the_data(&self) -> bool {
        self.sqlstate.starts_with("22") || (self.sqlstate.starts_with("23") && self.constraint.is_some())
    }

    /// The client error this failure means, if it means one.
    fn client_error(&self) -> Option<AppError> {
        let constraint = self.constraint.as_deref().unwrap_or("");
        Some(match self.sqlstate.as_str() {
            sqlstate::UNIQUE_VIOLATION => AppError::Conflict(unique_message(constraint)),
            sqlstate::SERIALIZATION_FAILURE | sqlstate::DEADLOCK_DETECTED => {
                AppError::Conflict("a concurrent change got there first; retry".into())
            }
            sqlstate::CHECK_VIOLATION | sqlstate::NOT_NULL_VIOLATION if !constraint.is_empty() => {
                let (field, message) = constraint_field(constraint);
                AppError::bad_input(field, message)
            }
            sqlstate::FOREIGN_KEY_VIOLATION => {
                let (field, _) = constraint_field(constraint);
                AppError::bad_input(
                    field.clone(),
                    format!("`{field}` refers to something that does not exist"),
                )
            }
            sqlstate::DATA_EXCEPTION if self.message.contains("embedded with model") => {
                AppError::other_embedding_model(&self.message)
            }
            sqlstate::INVALID_TEXT_REPRESENTATION | sqlstate::STRING_TOO_LONG => {
                AppError::bad_input("input", self.message.clone())
            }
            sqlstate::CHARACTER_NOT_IN_REPERTOIRE | sqlstate::UNTRANSLATABLE_CHARACTER => {
                AppError::bad_input("input", "text may not contain NUL characters")
            }
            sqlstate::QUERY_CANCELED => AppError::Timeout(TimeoutReason::Statement),
            sqlstate::LOCK_NOT_AVAILABLE => AppError::Timeout(TimeoutReason::Lock),
            _ => return None,
        })
    }
}

fn classify_db_error(err: DbErr) -> AppError {
    if is_unreachable(&err) {
        tracing::warn!(error = %err, "the database cannot be reached");
        return AppError::Unavailable;
    }
    if let Some(failure) = DbFailure::of(&err) {
        if let Some(client) = failure.client_error() {
            return client;
        }
        if failure.sqlstate == sqlstate::RLS_VIOLATION {
            // Writing a row of another tenant: only a bug can get here.
            tracing::error!(error = %err, "row-level security refused a write");
            return AppError::not_found("resource");
        }
    }
    match err {
        DbErr::RecordNotFound(_) => return AppError::not_found("resource"),
        DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout) => {
            tracing::warn!("no pool connection came free in time");
            return AppError::Timeout(TimeoutReason::Pool);
        }
        _ => {}
    }
    AppError::Internal(anyhow::Error::new(err))
}

/// A readable message for a unique constraint, by its name.
fn unique_message(constraint: &str) -> String {
    match constraint {
        "tenants_slug_key" => "a tenant with this slug already exists".into(),
        "users_tenant_email_key" => "a user with this email already exists".into(),
        "users_tenant_external_subject_key" => "a user with this external subject already exists".into(),
        "workspaces_tenant_slug_key" => "a workspace with this slug already exists".into(),
        "code_documents_workspace_content_hash_key" => "a document with this content already exists".into(),
        "" => "already exists".into(),
        other => format!("already exists ({other})"),
    }
}

/// The input field a check constraint guards, from its `<table>_<field>_check` name.
fn constraint_field(constraint: &str) -> (String, String) {
    const TABLES: &[&str] = &[
        "screenplay_fragments",
        "screenplay_sessions",
        "retrieved_documents",
        "fragment_versions",
        "code_documents",
        "outline_steps",
        "llm_call_logs",
        "execution_logs",
        "refresh_tokens",
        "quota_usage",
        "audit_logs",
        "workspaces",
        "tenants",
        "users",
    ];
    let rest = TABLES
        .iter()
        .find_map(|t| constraint.strip_prefix(t).and_then(|r| r.strip_prefix('_')))
        .unwrap_or(constraint);
    let field = rest
        .strip_suffix("_check")
        .or_else(|| rest.strip_suffix("_fkey"))
        .unwrap_or(rest);
    let field = to_camel_case(field);
    (field.clone(), format!("`{field}` is not valid"))
}

fn to_camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(source) = self {
            // Logged once here with the full chain; the client sees no detail.
            tracing::error!(error = ?source, "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code().as_str());
            match self {
                Self::BadInput { field, .. } => e.set("field", field.as_str()),
                Self::QuotaExceeded(q) => {
                    e.set("metric", q.metric);
                    e.set("limit", q.limit);
                    e.set("usage", q.usage);
                    if let Some(at) = q.resets_at {
                        e.set("resetsAt", at.to_rfc3339());
                    }
                }
                Self::RateLimited { retry_after_seconds } => {
                    e.set("retryAfterSeconds", *retry_after_seconds);
                }
                Self::Timeout(reason) => {
                    e.set("reason", reason.as_str());
                    e.set("retryAfterSeconds", TIMEOUT_RETRY_AFTER_SECONDS);
                }
                Self::Unavailable => e.set("retryAfterSeconds", UNAVAILABLE_RETRY_AFTER_SECONDS),
                _ => {}
            }
        })
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.extend()
    }
}

impl From<AppError> for anyhow::Error {
    fn from(err: AppError) -> Self {
        match err {
            AppError::Internal(e) => e,
            other => anyhow::anyhow!("{}: {}", other.code().as_str(), other.message()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_constraint_names_become_camel_case_fields() {
        assert_eq!(constraint_field("screenplay_sessions_title_check").0, "title");
        assert_eq!(
            constraint_field("tenants_requests_per_minute_check").0,
            "requestsPerMinute"
        );
        assert_eq!(constraint_field("screenplay_fragments_content_check").0, "content");
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let err = AppError::internal(anyhow::anyhow!("password=hunter2 in SQL"));
        let gql = err.extend();
        assert_eq!(gql.message, "internal error");
    }
}
