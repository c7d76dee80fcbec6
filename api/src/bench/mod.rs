//! `screenplay bench`: search latency, throughput and recall on a clustered
//! synthetic dataset, through the SQL functions and through the GraphQL API
//! of a real server; and ingest throughput against a plain COPY. A tool, not
//! a test: its results are committed in BENCHMARKS.md.

pub mod copy;
pub mod data;
pub mod run;
