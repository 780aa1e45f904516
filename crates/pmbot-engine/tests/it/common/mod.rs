//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use pmbot_core::TokenId;
use pmbot_engine::record::{MarketRef, RecordingInfo};
use pmbot_engine::replay::{Frame, ReplayError};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pmbot-engine-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TestDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `../shared/data/<sub>` next to the project, or `None` with a printed notice.
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("NOTICE: {} absent; skipping this real-data test", dir.display());
        None
    }
}

/// 2026-11-27T14:00:00Z in unix ms.
pub const T14: i64 = 1_795_788_000_000;
pub const HOUR: i64 = 3_600_000;

pub fn info(started_ms: i64) -> RecordingInfo {
    RecordingInfo {
        source_url: "wss://ws-subscriptions-clob.polymarket.com/ws/market".into(),
        tokens: vec![
            TokenId::parse("71321045679252212594626385532706912750332728571942532289631379312455583992563").unwrap(),
        ],
        markets: vec![MarketRef::new(
            "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917".parse().unwrap(),
            Some("some-market".into()),
        )],
        started_ms,
    }
}

/// Every frame of a source, failing the test on an error.
pub fn collect(frames: impl Iterator<Item = Result<Frame, ReplayError>>) -> Vec<(i64, String)> {
    frames.map(|f| f.map(|f| (f.received.millis(), f.text)).unwrap()).collect()
}

/// File names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}
