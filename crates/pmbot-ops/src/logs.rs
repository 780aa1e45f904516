//! Logs: human-readable lines on the terminal (stderr), and JSON lines in a
//! file that rotates daily (`pmbot.YYYY-MM-DD.jsonl`), written off the
//! calling thread.
//!
//! Levels come from `[logs]` (`terminal`, `file`), and `RUST_LOG`, when
//! set, overrides both. Nothing logged carries a secret: the parts that hold
//! secrets (key file, API credentials, webhook URL) keep them in types that
//! never print them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// `[logs]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level (or `RUST_LOG`-style directives) on the terminal. Warnings by
    /// default, so progress lines and `watch` stay readable.
    pub terminal: String,
    /// Level in the JSON log file: every order, fill, refusal and reconnect
    /// is at `info`.
    pub file: String,
    /// Folder of the JSON log files. Default: `pmbot-logs` beside the
    /// journal, for the commands that keep one; `""` turns file logs off.
    pub dir: Option<PathBuf>,
    /// Daily files kept (older ones are deleted).
    pub keep_days: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { terminal: "warn".into(), file: "info".into(), dir: None, keep_days: 30 }
    }
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("[logs] {which} = {value:?} is not a log level or filter: {reason}")]
    BadFilter { which: &'static str, value: String, reason: String },
    #[error("RUST_LOG={value:?} is not a log filter: {reason}")]
    BadEnv { value: String, reason: String },
    #[error("cannot write logs in {}: {reason}", dir.display())]
    Dir { dir: PathBuf, reason: String },
}

/// Keeps the file writer flushing; logs written before it drops reach the file.
#[must_use = "file logs are flushed while the guard lives"]
pub struct LogGuard {
    _file: Option<WorkerGuard>,
    /// Where the JSON logs go, when they do.
    pub dir: Option<PathBuf>,
}

fn filter(which: &'static str, value: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::builder().parse(value).map_err(|e| LogError::BadFilter {
        which,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

/// The filters to use: `RUST_LOG` for both when set, else the config's.
fn filters(cfg: &LogConfig, rust_log: Option<&str>) -> Result<(EnvFilter, EnvFilter), LogError> {
    match rust_log.filter(|v| !v.trim().is_empty()) {
        Some(v) => {
            let parse = || {
                EnvFilter::builder()
                    .parse(v)
                    .map_err(|e| LogError::BadEnv { value: v.to_owned(), reason: e.to_string() })
            };
            Ok((parse()?, parse()?))
        }
        None => Ok((filter("terminal", &cfg.terminal)?, filter("file", &cfg.file)?)),
    }
}

/// The folder file logs go to: `[logs] dir`, else `pmbot-logs` beside
/// `journal` (when the command keeps one); `None` for no file logs.
pub fn log_dir(cfg: &LogConfig, journal: Option<&Path>) -> Option<PathBuf> {
    match &cfg.dir {
        Some(d) if d.as_os_str().is_empty() => None,
        Some(d) => Some(d.clone()),
        // Beside the journal only where its folder exists: a journal path
        // that cannot be opened must fail as such, not have folders made
        // for its logs.
        None => journal.and_then(|j| {
            let parent = j.parent().unwrap_or(Path::new(""));
            let exists = parent.as_os_str().is_empty() || parent.is_dir();
            exists.then(|| parent.join("pmbot-logs"))
        }),
    }
}

/// Starts logging for the process: the terminal always, the JSON file when
/// `dir` is given. Call once, first.
pub fn init(cfg: &LogConfig, dir: Option<&Path>) -> Result<LogGuard, LogError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (terminal, file) = filters(cfg, rust_log.as_deref())?;
    let terminal_layer = fmt::layer().with_writer(std::io::stderr).with_filter(terminal);
    let Some(dir) = dir else {
        let _ = tracing_subscriber::registry().with(terminal_layer).try_init();
        return Ok(LogGuard { _file: None, dir: None });
    };
    let appender = file_appender(dir, cfg.keep_days)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let file_layer =
        fmt::layer().json().flatten_event(true).with_current_span(false).with_writer(writer).with_filter(file);
    let _ = tracing_subscriber::registry().with(terminal_layer).with(file_layer).try_init();
    Ok(LogGuard { _file: Some(guard), dir: Some(dir.to_path_buf()) })
}

/// The daily-rotating JSON-lines file in `dir` (created if missing).
pub fn file_appender(dir: &Path, keep_days: usize) -> Result<RollingFileAppender, LogError> {
    std::fs::create_dir_all(dir).map_err(|e| LogError::Dir { dir: dir.to_path_buf(), reason: e.to_string() })?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("pmbot")
        .filename_suffix("jsonl")
        .max_log_files(keep_days.max(1))
        .build(dir)
        .map_err(|e| LogError::Dir { dir: dir.to_path_buf(), reason: e.to_string() })
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGuard").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_overrides_the_config_and_bad_filters_are_named() {
        let cfg = LogConfig::default();
        let (t, f) = filters(&cfg, None).unwrap();
        assert_eq!((t.to_string(), f.to_string()), ("warn".to_owned(), "info".to_owned()));
        let (t, f) = filters(&cfg, Some("debug,hyper=warn")).unwrap();
        assert_eq!(t.to_string(), f.to_string());
        assert!(t.to_string().contains("debug"));
        let bad = LogConfig { terminal: "pmbot=loudest".into(), ..LogConfig::default() };
        let e = filters(&bad, None).unwrap_err().to_string();
        assert!(e.contains("[logs] terminal") && e.contains("loudest"), "{e}");
        let e = filters(&cfg, Some("x=nope")).unwrap_err().to_string();
        assert!(e.starts_with("RUST_LOG="), "{e}");
    }

    #[test]
    fn file_logs_go_beside_the_journal_unless_configured() {
        let cfg = LogConfig::default();
        let tmp = std::env::temp_dir();
        assert_eq!(log_dir(&cfg, Some(&tmp.join("j.sqlite"))), Some(tmp.join("pmbot-logs")));
        assert_eq!(log_dir(&cfg, Some(Path::new("/nonexistent/dir/j.sqlite"))), None, "no folders made");
        assert_eq!(log_dir(&cfg, Some(Path::new("j.sqlite"))), Some(PathBuf::from("pmbot-logs")));
        assert_eq!(log_dir(&cfg, None), None);
        let off = LogConfig { dir: Some(PathBuf::new()), ..LogConfig::default() };
        assert_eq!(log_dir(&off, Some(Path::new("j.sqlite"))), None);
        let set = LogConfig { dir: Some("/var/log/pmbot".into()), ..LogConfig::default() };
        assert_eq!(log_dir(&set, None), Some(PathBuf::from("/var/log/pmbot")));
    }

    #[test]
    fn an_unusable_log_folder_is_an_error_naming_it() {
        let file = std::env::temp_dir().join(format!("pmbot-logs-not-a-dir-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        let e = file_appender(&file.join("sub"), 3).unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
        let _ = std::fs::remove_file(&file);
    }
}
