//! URLs as logs, reports, errors and recordings may show them: one parser,
//! two policies.
//!
//! Invariant: what comes out never holds user-info, a query or a fragment
//! (where credentials travel: `wss://user:key@host/ws?apikey=k#x`).
//! [`origin`] also drops the path, since RPC providers put API keys there
//! (`https://polygon-mainnet.g.alchemy.com/v2/KEY`); [`without_credentials`]
//! keeps it, for feed URLs and recording sources whose path says what they
//! are (`/ws/market`, `file:///data/dir`).
//!
//! Hand-parsed rather than with the `url` crate: a string that is not a URL
//! (a typo in a config) must still come out redacted, not as an error that
//! repeats it.

/// A URL's parts, credentials already cut away.
struct Parts<'a> {
    scheme: Option<&'a str>,
    /// Host and port, without user-info.
    host: &'a str,
    path: &'a str,
}

fn parts(url: &str) -> Parts<'_> {
    let url = url.trim();
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut];
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    Parts { scheme, host, path }
}

/// `url` without user-info, query and fragment: `wss://user:key@host/ws/market?apikey=k#x`
/// becomes `wss://host/ws/market`. Text that is not a URL keeps only what
/// precedes a `?` or `#`, and loses anything up to an `@`.
pub fn without_credentials(url: &str) -> String {
    let p = parts(url);
    match p.scheme {
        Some(s) => format!("{s}://{}{}", p.host, p.path),
        None => format!("{}{}", p.host, p.path),
    }
}

/// `scheme://host[:port]` of `url`, or `None` when it has no scheme or no
/// host (then nothing of it may be shown: it could be a key pasted alone).
pub fn origin(url: &str) -> Option<String> {
    let p = parts(url);
    let scheme =
        p.scheme.filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)))?;
    let host_ok = !p.host.is_empty() && !p.host.chars().any(char::is_whitespace);
    host_ok.then(|| format!("{scheme}://{}", p.host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_come_out() {
        let cases = [
            (
                "wss://ws-subscriptions-clob.polymarket.com/ws/market",
                "wss://ws-subscriptions-clob.polymarket.com/ws/market",
            ),
            ("wss://user:secret@host:443/ws/market?apikey=k&x=1#frag", "wss://host:443/ws/market"),
            ("ws://127.0.0.1:8080/ws/market?token=abc", "ws://127.0.0.1:8080/ws/market"),
            ("wss://key@host", "wss://host"),
            ("host/path?secret", "host/path"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(without_credentials(input), want, "{input}");
        }
        // An '@' in the path is not user-info.
        assert_eq!(without_credentials("wss://host/a@b"), "wss://host/a@b");
    }

    #[test]
    fn the_origin_drops_the_path_too() {
        let o = |u| origin(u);
        assert_eq!(
            o("https://polygon-mainnet.g.alchemy.com/v2/SECRETKEY").as_deref(),
            Some("https://polygon-mainnet.g.alchemy.com")
        );
        assert_eq!(o("https://user:pw@rpc.example:8443/?apikey=SECRET").as_deref(), Some("https://rpc.example:8443"));
        assert_eq!(o(" http://127.0.0.1:8545 ").as_deref(), Some("http://127.0.0.1:8545"));
        assert_eq!(o("garbage SECRET"), None);
        assert_eq!(o("SECRETKEY"), None);
        assert_eq!(o("https://"), None);
        assert_eq!(o("https://a b/SECRET"), None);
    }
}
