//! File names of a recording: `market-<UTC hour>[.<n>].jsonl.zst`, e.g.
//! `market-2026-11-27T14.jsonl.zst`, and `market-2026-11-27T14.1.jsonl.zst`
//! for a second file of the same hour (a restart, or a frame that came back
//! to an hour whose file was already finished).
//!
//! Invariant: sorting recordings by [`FileKey`] (hour, then sequence number)
//! is the order they were written in. Plain name order is not: `T14.1.jsonl`
//! sorts before `T14.jsonl`.

use chrono::{DateTime, NaiveDate};

/// What every data file name starts with (the market channel).
pub const FILE_PREFIX: &str = "market-";
/// What every data file name ends with.
pub const FILE_SUFFIX: &str = ".jsonl.zst";
/// The metadata file of a recording directory.
pub const META_FILE: &str = "recording.json";

const MS_PER_HOUR: i64 = 3_600_000;
/// Receive times must lie in [1970, 10000): four-digit years keep names
/// fixed-width and sortable, and a time outside that is a broken clock.
const MAX_MS: i64 = 253_402_300_800_000;

/// A data file's place in the recording: its UTC hour (hours since the unix
/// epoch) and its sequence number within that hour (0 for the first file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileKey {
    pub hour: i64,
    pub seq: u32,
}

/// The UTC hour (hours since the epoch) of a receive time, if the time is in
/// the range a recording accepts.
pub fn hour_of(ms: i64) -> Option<i64> {
    (0..MAX_MS).contains(&ms).then_some(ms / MS_PER_HOUR)
}

/// The first millisecond of an hour.
pub fn hour_start_ms(hour: i64) -> i64 {
    hour.saturating_mul(MS_PER_HOUR)
}

/// The file name for a key (`None` for hours outside the accepted range).
pub fn file_name(key: FileKey) -> Option<String> {
    let start = hour_start_ms(key.hour);
    hour_of(start)?;
    let at = DateTime::from_timestamp_millis(start)?;
    let hour = at.format("%Y-%m-%dT%H");
    Some(match key.seq {
        0 => format!("{FILE_PREFIX}{hour}{FILE_SUFFIX}"),
        n => format!("{FILE_PREFIX}{hour}.{n}{FILE_SUFFIX}"),
    })
}

/// The key of a data file name; `None` if the name is not one.
pub fn parse_file_name(name: &str) -> Option<FileKey> {
    let body = name.strip_prefix(FILE_PREFIX)?.strip_suffix(FILE_SUFFIX)?;
    let (stamp, seq) = match body.split_once('.') {
        Some((stamp, seq)) => (stamp, parse_seq(seq)?),
        None => (body, 0),
    };
    // YYYY-MM-DDTHH
    let b = stamp.as_bytes();
    if b.len() != 13 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = &stamp[r];
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let at = date.and_hms_opt(num(11..13)?, 0, 0)?.and_utc();
    let key = FileKey { hour: hour_of(at.timestamp_millis())?, seq };
    // Only the canonical spelling is ours (no "+1" or leading zeros in seq).
    (file_name(key)? == name).then_some(key)
}

fn parse_seq(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_utc_hour() {
        // 2026-11-27T14:32:10.123Z
        let ms = 1_795_789_930_123;
        let hour = hour_of(ms).unwrap();
        assert_eq!(file_name(FileKey { hour, seq: 0 }).unwrap(), "market-2026-11-27T14.jsonl.zst");
        assert_eq!(file_name(FileKey { hour, seq: 3 }).unwrap(), "market-2026-11-27T14.3.jsonl.zst");
        assert_eq!(hour_start_ms(hour), 1_795_788_000_000);
        assert_eq!(hour_of(hour_start_ms(hour) - 1), Some(hour - 1));
    }

    #[test]
    fn names_parse_back_and_sort_in_write_order() {
        let mut names = vec![
            "market-2026-11-27T15.jsonl.zst",
            "market-2026-11-27T14.1.jsonl.zst",
            "market-2026-11-27T14.jsonl.zst",
            "market-2026-11-27T14.10.jsonl.zst",
            "market-2026-11-27T14.2.jsonl.zst",
        ];
        names.sort_by_key(|n| parse_file_name(n).unwrap());
        assert_eq!(
            names,
            [
                "market-2026-11-27T14.jsonl.zst",
                "market-2026-11-27T14.1.jsonl.zst",
                "market-2026-11-27T14.2.jsonl.zst",
                "market-2026-11-27T14.10.jsonl.zst",
                "market-2026-11-27T15.jsonl.zst",
            ]
        );
        for n in names {
            assert_eq!(file_name(parse_file_name(n).unwrap()).unwrap(), n);
        }
    }

    #[test]
    fn other_names_are_not_data_files() {
        for n in [
            "recording.json",
            "market-2026-11-27T14.jsonl",
            "market-2026-11-27T24.jsonl.zst",
            "market-2026-02-30T01.jsonl.zst",
            "market-2026-11-27T14.0.jsonl.zst",
            "market-2026-11-27T14.01.jsonl.zst",
            "market-2026-11-27T14.x.jsonl.zst",
            "market-2026-11-27 14.jsonl.zst",
            "user-2026-11-27T14.jsonl.zst",
        ] {
            assert_eq!(parse_file_name(n), None, "{n}");
        }
    }

    #[test]
    fn times_outside_the_range_have_no_hour() {
        assert_eq!(hour_of(-1), None);
        assert_eq!(hour_of(MAX_MS), None);
        assert_eq!(hour_of(0), Some(0));
        assert!(file_name(FileKey { hour: hour_of(MAX_MS - 1).unwrap(), seq: 0 }).unwrap().contains("9999-12-31T23"));
    }
}
