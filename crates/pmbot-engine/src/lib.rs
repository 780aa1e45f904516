//! pmbot's engine side. DESIGN.md puts the loop, the paper venue, the journal,
//! the recorder and the replayer here; built so far:
//!
//! - [`record`]: the market-data recorder (raw WebSocket frames with their
//!   receive times, hourly zstd JSON-lines files, at most a second lost on a
//!   crash).
//! - [`replay`]: recordings, and the real data sets in `../shared/data`, back
//!   as the same frame stream, as fast as possible or paced against a clock.

pub mod record;
pub mod replay;
