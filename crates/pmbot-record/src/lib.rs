//! Market-data recordings, below the adapters (it depends on `pmbot-core`
//! alone), so the simulator can write them and the engine and the model can
//! read them without either linking the other's side:
//!
//! - [`record`]: the recorder (raw WebSocket frames with their receive times,
//!   hourly zstd JSON-lines files, at most a second lost on a crash).
//! - [`replay`]: recordings, and the real data sets in `../shared/data`, back
//!   as the same frame stream, as fast as possible or paced against a clock.

pub mod record;
pub mod replay;
