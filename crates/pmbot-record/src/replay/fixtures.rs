//! Single WebSocket messages kept as files (`../shared/data/ws-fixtures`), as
//! frames for parser tests.
//!
//! Invariant: one file is one frame, its text exactly the file's content, in
//! path order. A file is a WebSocket message if it is a `.json` file whose
//! name starts with `ws_` or that sits in a `ws_messages` directory (REST
//! and Gamma responses beside them are not). Its receive time is the
//! message's own `timestamp` field when that is a millisecond count, else 0:
//! the files come from different years, so times are not in order.

use std::path::{Path, PathBuf};

use pmbot_core::TimestampMs;

use super::{Frame, ReplayError};

/// Whether `path` is a WebSocket message fixture (see the module docs).
pub fn is_ws_fixture(path: &Path) -> bool {
    let is_json = path.extension().is_some_and(|e| e == "json");
    let named_ws = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ws_"));
    let in_ws_dir = path.parent().and_then(Path::file_name).is_some_and(|d| d == "ws_messages");
    is_json && (named_ws || in_ws_dir)
}

/// Every WebSocket message fixture under `dir` (recursively), in path order.
pub fn ws_fixture_frames(dir: impl AsRef<Path>) -> Result<Vec<Frame>, ReplayError> {
    let mut paths = Vec::new();
    collect(dir.as_ref(), &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|source| ReplayError::Io { path: path.clone(), source })?;
            Ok(Frame { received: own_timestamp(&text), text })
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReplayError> {
    let io_err = |source| ReplayError::Io { path: dir.to_owned(), source };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if is_ws_fixture(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// The `timestamp` of a single JSON object message, if it has one.
fn own_timestamp(text: &str) -> TimestampMs {
    #[derive(serde::Deserialize)]
    struct Stamped {
        timestamp: TimestampMs,
    }
    serde_json::from_str::<Stamped>(text).map_or(TimestampMs::ZERO, |s| s.timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_files_are_ws_messages() {
        for yes in ["a/crates_test_data/ws_book_snapshot.json", "a/py_resources/ws_messages/book.json"] {
            assert!(is_ws_fixture(Path::new(yes)), "{yes}");
        }
        for no in ["a/crates_test_data/gamma_market.json", "a/http_responses/book.json", "a/ws_messages/notes.txt"] {
            assert!(!is_ws_fixture(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn times_come_from_the_message() {
        assert_eq!(
            own_timestamp(r#"{"event_type":"book","timestamp":"1703875200000"}"#),
            TimestampMs(1_703_875_200_000)
        );
        assert_eq!(own_timestamp(r#"{"timestamp":1703875200000}"#), TimestampMs(1_703_875_200_000));
        assert_eq!(own_timestamp(r#"[{"timestamp":"1"}]"#), TimestampMs::ZERO);
        assert_eq!(own_timestamp("not json"), TimestampMs::ZERO);
    }
}
