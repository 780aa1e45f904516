//! pmbot-core's integration tests, one module per former test file, in one
//! binary: one build and link instead of 2 (issue 14).

mod book_props;
mod real_fixtures;
