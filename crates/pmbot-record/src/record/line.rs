//! One recorded frame per line: `{"t":<receive ms>,"frame":<the frame as a JSON string>}` and `\n`.
//!
//! Invariant: decoding an encoded line gives back the receive time and the
//! exact frame text, whatever the text is (invalid JSON, empty, control
//! characters, any size). The frame is stored as a JSON *string*, never as
//! embedded JSON, so nothing about it is re-serialised; JSON string escaping
//! turns every `\n` and `\r` inside it into `\n`/`\r` escapes, so a line
//! break only ever ends a line.

use serde::Deserialize;

/// The text a line starts with; the receive time follows.
const LINE_START: &[u8] = b"{\"t\":";

/// Appends the line for one frame (with its trailing `\n`) to `out`.
pub fn encode_line(out: &mut Vec<u8>, received_ms: i64, frame: &str) {
    out.reserve(frame.len() + frame.len() / 8 + 40);
    out.extend_from_slice(LINE_START);
    out.extend_from_slice(itoa(received_ms, &mut [0u8; 20]));
    out.extend_from_slice(b",\"frame\":");
    // Serialising a `str` into a `Vec` has no failure path (no I/O, no
    // non-string keys); serde_json escapes `"`, `\` and control characters
    // and writes everything else verbatim as UTF-8.
    serde_json::to_writer(&mut *out, frame).expect("a str always serialises into a Vec");
    out.extend_from_slice(b"}\n");
}

/// A line that is not `{"t":<integer>,"frame":<string>}`.
#[derive(Debug, thiserror::Error)]
#[error("not a recorded frame line: {0}")]
pub struct LineError(#[from] serde_json::Error);

#[derive(Deserialize)]
struct Line {
    t: i64,
    frame: String,
}

/// Decodes one line (without its `\n`) into the receive time and frame text.
/// Keys other than `t` and `frame` are ignored: a later format version may add
/// some, and bumps `format_version` in the metadata if old readers must not
/// ignore them.
pub fn decode_line(line: &[u8]) -> Result<(i64, String), LineError> {
    let Line { t, frame } = serde_json::from_slice(line)?;
    Ok((t, frame))
}

/// `v` in decimal, without allocating.
fn itoa(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(t: i64, frame: &str) -> (i64, String) {
        let mut out = Vec::new();
        encode_line(&mut out, t, frame);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "exactly one line break, at the end");
        decode_line(&out[..out.len() - 1]).unwrap()
    }

    #[test]
    fn the_line_format_is_what_the_docs_say() {
        let mut out = Vec::new();
        encode_line(&mut out, 1_795_750_000_123, r#"{"event_type":"book"}"#);
        assert_eq!(out, b"{\"t\":1795750000123,\"frame\":\"{\\\"event_type\\\":\\\"book\\\"}\"}\n");
    }

    #[test]
    fn awkward_frames_round_trip() {
        let frames = [
            "",
            "PONG",
            "not json at all",
            "{\"event_type\":",
            "line one\nline two\r\n",
            "\u{0}\u{1}\u{1f}\u{7f}\t\"\\",
            "\u{2028}\u{2029} é ✓ 🦀",
            "[{\"event_type\":\"book\"},{\"event_type\":\"price_change\"}]",
        ];
        for f in frames {
            assert_eq!(round_trip(42, f), (42, f.to_owned()), "{f:?}");
        }
        for t in [i64::MIN, -1, 0, 1, i64::MAX] {
            assert_eq!(round_trip(t, "x").0, t);
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in [
            &b""[..],
            b"{}",
            b"{\"t\":1}",
            b"{\"t\":\"1\",\"frame\":\"x\"}",
            b"{\"t\":1.5,\"frame\":\"x\"}",
            b"{\"t\":1,\"frame\":\"x\"",
            b"{\"t\":1,\"frame\":\"x\"} trailing",
            b"{\"t\":1,\"frame\":\"x\",\"t\":2}",
        ] {
            assert!(decode_line(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Unknown keys are ignored (forward compatibility).
        assert_eq!(decode_line(b"{\"t\":1,\"frame\":\"x\",\"src\":\"ws\"}").unwrap(), (1, "x".to_owned()));
    }

    proptest! {
        #[test]
        fn any_text_round_trips(t in any::<i64>(), frame in any::<String>()) {
            prop_assert_eq!(round_trip(t, &frame), (t, frame));
        }
    }
}
