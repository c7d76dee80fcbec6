//! Validated values every layer above may use: typed ids and the input
//! rules shared by services (names, slugs, language tags, …).

pub mod ids;
pub mod validate;

pub use ids::TenantId;
