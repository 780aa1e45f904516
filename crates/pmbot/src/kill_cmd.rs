//! `pmbot kill` / `pmbot unkill`: the kill switch is a file. While it exists
//! the order gateway sends no order (it checks before every one), so an
//! operator can stop trading from any shell, even if pmbot is unresponsive.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct KillArgs {
    /// The kill switch file (default: `gateway.kill_switch` from the config,
    /// `.kill_switch` in the working directory unless set).
    #[arg(long, value_name = "FILE")]
    pub path: Option<PathBuf>,
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Creates the kill switch file (idempotent) and says where it is.
pub fn kill(path: &Path, now_ms: i64) -> Result<String> {
    let body = format!("kill switch set by `pmbot kill` at unix ms {now_ms}\nremove it with `pmbot unkill`\n");
    std::fs::write(path, body).with_context(|| format!("cannot create the kill switch {}", path.display()))?;
    Ok(format!("kill switch ON: {} (no order will be sent while it exists)", absolute(path).display()))
}

/// Removes the kill switch file, if present, and says what happened.
pub fn unkill(path: &Path) -> Result<String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(format!("kill switch OFF: {} removed", absolute(path).display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(format!("kill switch was not set: {} does not exist", absolute(path).display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot remove the kill switch {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_then_unkill() {
        let dir = std::env::temp_dir().join(format!("pmbot-kill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(".kill_switch");
        let said = kill(&p, 5).unwrap();
        assert!(said.starts_with("kill switch ON: ") && p.exists(), "{said}");
        assert!(kill(&p, 6).is_ok(), "setting it twice is fine");
        assert!(unkill(&p).unwrap().starts_with("kill switch OFF"));
        assert!(!p.exists());
        assert!(unkill(&p).unwrap().contains("was not set"));
        let err = kill(&dir.join("no/such/dir/.kill_switch"), 7).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create the kill switch"));
    }
}
