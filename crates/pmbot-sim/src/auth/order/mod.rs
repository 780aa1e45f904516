//! Orders (in progress).
