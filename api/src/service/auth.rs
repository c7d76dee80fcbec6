//! Sign-in, refresh-token rotation and sign-out.
//!
//! Refresh tokens are opaque (`rt1.<tenant>.<secret>`), stored as SHA-256
//! hashes, and rotate on every use. All tokens rotated from one sign-in form a
//! family: presenting a token that was already rotated means it was copied,
//! so the whole family is revoked. Repeated wrong passwords lock the account
//! for a growing time; every failure says the same thing, and the same
//! password-hash work is done whether or not the account exists.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use entity::{
    enums::{TenantStatus, UserStatus},
    refresh_tokens, tenants, users,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Set, Statement, prelude::*,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    auth::{Role, jwt::JwtIssuer, password},
    db::Db,
    db::TenantOwned,
    domain::TenantId,
    error::{AppError, AppResult},
};

/// Failures before an account starts to lock.
const FREE_FAILURES: i32 = 5;
/// Longest lock after repeated failures.
const MAX_LOCK_SECONDS: i64 = 900;
const INVALID_CREDENTIALS: &str = "invalid tenant, email or password";

/// A signed-in session: what `login` and `refreshToken` return.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: users::Model,
}

/// Signs a user in with tenant slug, email and password. The password is
/// checked with no transaction open, so a flood of attempts on one account
/// holds neither its row nor a pooled connection while hashing; failures are
/// counted by one atomic UPDATE.
pub async fn login(
    db: &Db,
    issuer: &JwtIssuer,
    refresh_ttl: std::time::Duration,
    tenant_slug: &str,
    email: &str,
    secret: String,
) -> AppResult<Session> {
    let failure = || AppError::Unauthenticated(INVALID_CREDENTIALS.into());
    let Some(account) = find_account(db, tenant_slug.trim(), email.trim()).await? else {
        password::verify(secret, None).await?;
        return Err(failure());
    };
    let matches = password::verify(secret, account.user.password_hash.clone()).await?;
    let now = Utc::now();
    if account.user.locked_until.is_some_and(|until| until > now) {
        return Err(failure());
    }
    if !matches {
        record_failure(db, account.tenant_id, account.user.id).await?;
        return Err(failure());
    }
    if !account.tenant_active || account.user.status != UserStatus::Active {
        return Err(failure());
    }
    let tx = db.begin_tenant(account.tenant_id).await?;
    // Still active and not locked by a failure that landed meanwhile.
    let user = users::Entity::update_many_in(account.tenant_id)
        .col_expr(users::Column::FailedLoginCount, Expr::value(0))
        .col_expr(users::Column::LockedUntil, Expr::cust("NULL"))
        .col_expr(users::Column::LastLoginAt, Expr::current_timestamp())
        .filter(users::Column::Id.eq(account.user.id))
        .filter(users::Column::Status.eq(UserStatus::Active))
        .filter(Expr::cust("(locked_until IS NULL OR locked_until <= now())"))
        .exec_with_returning(&tx)
        .await?
        .pop()
        .ok_or_else(failure)?;
    let family = Uuid::now_v7();
    let refresh_token = insert_refresh_token(&tx, &user, family, refresh_ttl).await?;
    let (access_token, exp) = issue_access(issuer, &user, family)?;
    tx.commit().await?;
    Ok(Session {
        access_token,
        refresh_token,
        expires_at: DateTime::from_timestamp(exp as i64, 0).unwrap_or(now),
        user,
    })
}

/// A user found by tenant slug and email, as it was when read.
struct Account {
    tenant_id: TenantId,
    tenant_active: bool,
    user: users::Model,
}

async fn find_account(db: &Db, tenant_slug: &str, email: &str) -> AppResult<Option<Account>> {
    let Some((tenant_id, tenant_status)) = tenant_by_slug(db, tenant_slug).await? else {
        return Ok(None);
    };
    let tx = db.begin_tenant(tenant_id).await?;
    let user = users::Entity::find_in(tenant_id)
        .filter(Expr::cust_with_values("lower(email) = lower($1)", [email.to_owned()]))
        .one(&tx)
        .await?;
    tx.commit().await?;
    Ok(user.map(|user| Account {
        tenant_id,
        tenant_active: tenant_status == TenantStatus::Active.as_str(),
        user,
    }))
}

/// Counts a wrong password; from the `FREE_FAILURES`th on, the account locks
/// for a time that doubles with each failure (at most `MAX_LOCK_SECONDS`).
async fn record_failure(db: &Db, tenant_id: TenantId, user_id: Uuid) -> AppResult<()> {
    let tx = db.begin_tenant(tenant_id).await?;
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE screenplay.users SET failed_login_count = failed_login_count + 1, \
         locked_until = CASE WHEN failed_login_count + 1 >= $2 \
           THEN now() + make_interval(secs => least(power(2, failed_login_count + 1 - $2), $3)) \
           ELSE locked_until END \
         WHERE tenant_id = $4 AND id = $1",
        [
            user_id.into(),
            FREE_FAILURES.into(),
            (MAX_LOCK_SECONDS as f64).into(),
            tenant_id.into(),
        ],
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Exchanges a refresh token for a new pair; the presented one stops working.
pub async fn refresh(db: &Db, issuer: &JwtIssuer, refresh_ttl: std::time::Duration, token: &str) -> AppResult<Session> {
    let invalid = || AppError::Unauthenticated("invalid refresh token".into());
    let tenant_id = parse_refresh_token(token).ok_or_else(invalid)?;
    let tx = db.begin_tenant(tenant_id).await?;
    let stored = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(hash_token(token)))
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or_else(invalid)?;
    let now = Utc::now();
    if stored.revoked_at.is_some() {
        return Err(invalid());
    }
    if stored.rotated_at.is_some() {
        revoke_family(&tx, stored.family_id).await?;
        tx.commit().await?;
        tracing::warn!(family = %stored.family_id, user = %stored.user_id, "refresh token reused; family revoked");
        return Err(AppError::Unauthenticated(
            "refresh token already used: every session of this sign-in is revoked".into(),
        ));
    }
    if stored.expires_at < now {
        return Err(AppError::Unauthenticated("refresh token expired".into()));
    }
    let user = users::Entity::find_by_id(stored.user_id)
        .one(&tx)
        .await?
        .ok_or_else(invalid)?;
    let tenant = tenants::Entity::find_by_id(tenant_id)
        .one(&tx)
        .await?
        .ok_or_else(invalid)?;
    if tenant.status != TenantStatus::Active || user.status != UserStatus::Active {
        return Err(invalid());
    }
    let family = stored.family_id;
    let mut rotated: refresh_tokens::ActiveModel = stored.into();
    rotated.rotated_at = Set(Some(now.fixed_offset()));
    rotated.update(&tx).await?;
    let refresh_token = insert_refresh_token(&tx, &user, family, refresh_ttl).await?;
    let (access_token, exp) = issue_access(issuer, &user, family)?;
    tx.commit().await?;
    Ok(Session {
        access_token,
        refresh_token,
        expires_at: DateTime::from_timestamp(exp as i64, 0).unwrap_or(now),
        user,
    })
}

/// Revokes the sign-in a refresh token belongs to. Unknown tokens are fine:
/// signing out twice is not an error.
pub async fn logout(db: &Db, token: &str) -> AppResult<bool> {
    let tenant_id = parse_refresh_token(token)
        .ok_or_else(|| AppError::bad_input("refreshToken", "`refreshToken` is not a refresh token"))?;
    let tx = db.begin_tenant(tenant_id).await?;
    let stored = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(hash_token(token)))
        .one(&tx)
        .await?;
    let revoked = match stored {
        Some(stored) => {
            revoke_family(&tx, stored.family_id).await?;
            true
        }
        None => false,
    };
    tx.commit().await?;
    Ok(revoked)
}

/// Revokes every refresh token of a user.
pub async fn revoke_user_refresh_tokens(
    db: &impl ConnectionTrait,
    tenant_id: TenantId,
    user_id: Uuid,
) -> AppResult<()> {
    refresh_tokens::Entity::update_many_in(tenant_id)
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::current_timestamp())
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every refresh token of a tenant.
pub async fn revoke_tenant_refresh_tokens(db: &impl ConnectionTrait, tenant_id: TenantId) -> AppResult<()> {
    refresh_tokens::Entity::update_many_in(tenant_id)
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::current_timestamp())
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

async fn revoke_family(db: &impl ConnectionTrait, family: Uuid) -> AppResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::current_timestamp())
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The tenant behind a slug, looked up before any tenant is known.
async fn tenant_by_slug(db: &Db, slug: &str) -> AppResult<Option<(TenantId, String)>> {
    // In a transaction like every statement: PgBouncer in transaction mode
    // keeps a prepared statement only for the length of one.
    let tx = db.begin_raw().await?;
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, status FROM screenplay.tenant_by_slug($1)",
            [slug.to_owned().into()],
        ))
        .await?;
    tx.commit().await?;
    Ok(match row {
        Some(row) => Some((row.try_get::<Uuid>("", "id")?.into(), row.try_get("", "status")?)),
        None => None,
    })
}

/// An access token bound to its sign-in (`family`): revoking the refresh
/// family (logout, reuse) ends the access token too.
fn issue_access(issuer: &JwtIssuer, user: &users::Model, family: Uuid) -> AppResult<(String, u64)> {
    issuer
        .issue_in_session(
            &user.id.to_string(),
            Some(user.tenant_id),
            Role::from(user.role),
            issuer.access_ttl,
            Some(family),
        )
        .map_err(AppError::internal)
}

async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    user: &users::Model,
    family: Uuid,
    ttl: std::time::Duration,
) -> AppResult<String> {
    let secret: [u8; 32] = rand::random();
    let token = format!("rt1.{}.{}", user.tenant_id.simple(), URL_SAFE_NO_PAD.encode(secret));
    let now = Utc::now();
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(user.tenant_id),
        user_id: Set(user.id),
        family_id: Set(family),
        token_hash: Set(hash_token(&token)),
        expires_at: Set((now + ChronoDuration::from_std(ttl).map_err(AppError::internal)?).fixed_offset()),
        rotated_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now.fixed_offset()),
    }
    .insert(db)
    .await?;
    Ok(token)
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The tenant a refresh token belongs to, when it is well formed.
fn parse_refresh_token(token: &str) -> Option<TenantId> {
    let mut parts = token.trim().split('.');
    let (Some("rt1"), Some(tenant), Some(secret), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if URL_SAFE_NO_PAD.decode(secret).ok()?.len() != 32 {
        return None;
    }
    Uuid::parse_str(tenant).ok().map(TenantId::from)
}
