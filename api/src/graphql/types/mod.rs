//! GraphQL output and input types.
