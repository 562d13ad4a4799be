//! The mail the local SMTP server received (aiosmtpd, started by `scripts/test.sh`, writes each
//! message into a maildir): tests wait for a message to an address and follow the link in it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The SMTP URL of the local server, for `mail.smtp_url`.
pub fn smtp_url() -> String {
    let port = std::env::var("CAIRN_TEST_SMTP_PORT").expect(
        "CAIRN_TEST_SMTP_PORT: run the tests with scripts/test.sh, which starts the SMTP server",
    );
    format!("smtp://127.0.0.1:{port}")
}

fn maildir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CAIRN_TEST_MAILDIR")
            .expect("CAIRN_TEST_MAILDIR: run the tests with scripts/test.sh"),
    )
}

/// One received message, decoded.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The `Subject` header.
    pub subject: String,
    /// The text body, transfer encoding undone.
    pub body: String,
    /// The raw message as the server stored it.
    pub raw: String,
}

impl ReceivedMail {
    /// The first link in the body whose path starts with `path_prefix` (e.g. `/invite/`).
    pub fn link(&self, path_prefix: &str) -> Option<String> {
        self.body
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(path_prefix))
            .map(str::to_owned)
    }
}

/// Every message received for `to` whose body holds a link with `path_prefix` (e.g. `/invite/`),
/// oldest first.
pub fn messages_to(to: &str, path_prefix: &str) -> Vec<ReceivedMail> {
    let mut found = Vec::new();
    for folder in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir().join(folder)) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(raw) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let recipients = header(&raw, "X-RcptTo").unwrap_or_default();
            if !recipients
                .split(',')
                .any(|r| r.trim().eq_ignore_ascii_case(to))
            {
                continue;
            }
            let mail = parse(&raw);
            if mail.link(path_prefix).is_some() {
                let modified = entry.metadata().and_then(|m| m.modified()).ok();
                found.push((modified, entry.file_name(), mail));
            }
        }
    }
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found.into_iter().map(|(_, _, mail)| mail).collect()
}

/// Waits (up to 15 s) until `count` messages for `to` with a `path_prefix` link have arrived, and
/// returns them, oldest first.
pub async fn wait_for(to: &str, path_prefix: &str, count: usize) -> Vec<ReceivedMail> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = messages_to(to, path_prefix);
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{count} message(s) with a {path_prefix} link for {to} did not arrive; got {}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\n\n").next().unwrap_or(raw);
    let mut value: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(current) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                current.push_str(line.trim_start());
                continue;
            }
            break;
        }
        if let Some((key, rest)) = line.split_once(':')
            && key.eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim().to_owned());
        }
    }
    value
}

fn parse(raw: &str) -> ReceivedMail {
    let normalized = raw.replace("\r\n", "\n");
    let body = normalized
        .split_once("\n\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    let encoding = header(&normalized, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let body = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body),
        _ => body.to_owned(),
    };
    ReceivedMail {
        subject: header(&normalized, "Subject").unwrap_or_default(),
        body,
        raw: raw.to_owned(),
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len() + 1
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn decode_base64(text: &str) -> String {
    use base64::Engine;
    let compact: String = text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_printable_bodies_are_decoded() {
        assert_eq!(decode_quoted_printable("a=3Db long=\nline"), "a=b longline");
    }
}
