//! Audit rows and usage counters written by the server itself.

mod admin_api;
mod rows;
mod secrets;
mod storage;
