//! Request protection: limits, persisted queries, rate limits and quotas,
//! principals whose access ends at once, websocket bounds.

mod hostile;
mod limits;
mod persisted_queries;
mod principals;
mod quotas;
mod sign_in;
mod websockets;
