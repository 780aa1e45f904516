//! The one report renderer behind the trading report (`pmbot report`, the
//! end of every run) and the model report (`pmbot validate`):
//!
//! - [`document`]: a report as a list of blocks, written once;
//! - [`markdown`] and [`html`]: the two renderings of a document, so
//!   `report.md` and `report.html` can never say different things;
//! - [`plot`]: PNG plots drawn in memory with an embedded font;
//! - [`files`]: every file written whole or not at all.
//!
//! Invariant: the same input gives the same bytes (no clock, no random, no
//! system font).

pub mod document;
pub mod files;
pub mod html;
pub mod markdown;
pub mod plot;
