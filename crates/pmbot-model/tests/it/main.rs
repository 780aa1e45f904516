//! pmbot-model's integration tests, one module per former test file, in one
//! binary: one build and link instead of 4 (issue 14).

mod model_file;
mod planted_signal;
mod real_data_validation;
mod validation;
