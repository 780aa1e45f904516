//! Why a run could not start or go on, as one line a person can act on:
//! what was being done, then its cause (each cause keeps its own type, so
//! the binary prints the chain and tests can look into it).
//!
//! `context` and `with_context` read as anyhow's do, so a run's code says
//! what it was doing at each step; the error stays typed for callers.

use std::error::Error;

/// A cause of any type.
pub type Cause = Box<dyn Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Refused before anything was done: bad options, a missing input.
    #[error("{0}")]
    Refused(String),
    /// What was being done, over why it failed.
    #[error("{doing}")]
    Failed {
        doing: String,
        #[source]
        cause: Cause,
    },
}

pub type Result<T> = std::result::Result<T, RunError>;

/// Returns a [`RunError::Refused`] with the formatted text.
macro_rules! refuse {
    ($($text:tt)*) => {
        return Err($crate::error::RunError::Refused(format!($($text)*)))
    };
}
pub(crate) use refuse;

/// What was being done when a step failed, in front of why.
pub trait Context<T> {
    fn context(self, doing: &str) -> Result<T>;
    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Cause>> Context<T> for std::result::Result<T, E> {
    fn context(self, doing: &str) -> Result<T> {
        self.map_err(|e| RunError::Failed { doing: doing.to_owned(), cause: e.into() })
    }

    fn with_context(self, doing: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| RunError::Failed { doing: doing(), cause: e.into() })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, missing: &str) -> Result<T> {
        self.ok_or_else(|| RunError::Refused(missing.to_owned()))
    }

    fn with_context(self, missing: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| RunError::Refused(missing()))
    }
}

/// An error and its causes on one line. Many errors already print their
/// cause (`{path}: {source}`); a cause whose text the line holds is not
/// repeated, and an error spread over lines (TOML's) is kept on one.
pub fn one_line(e: &(dyn Error + 'static)) -> String {
    let mut line = String::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        let text = cause.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        next = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_says_what_was_done_and_keeps_its_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = Err::<(), _>(io).context("cannot read the model m.json").unwrap_err();
        assert_eq!(e.to_string(), "cannot read the model m.json");
        let cause = e.source().expect("the cause is kept");
        assert_eq!(cause.downcast_ref::<std::io::Error>().unwrap().kind(), std::io::ErrorKind::NotFound);
        assert_eq!(None::<u8>.context("no model").unwrap_err().to_string(), "no model");
    }
}
