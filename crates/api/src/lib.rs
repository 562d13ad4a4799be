#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod ai;
pub mod error;
pub mod github;
pub mod ids;
pub mod jobs;
pub mod knowledge;
pub mod memory;
pub mod notes;
pub mod projects;
pub mod syncs;
pub mod tenants;
pub mod tokens;
#[cfg(feature = "server-fn")]
pub mod wire;
pub mod workflows;

pub use error::ApiError;

/// `n` with the noun that agrees with it: "1 file", "3 files", "0 files".
pub fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    let noun = if n == N::from(1) { one } else { many };
    format!("{n} {noun}")
}

/// Orders names as people read them: runs of digits by their value, so `AP-2` comes before
/// `AP-10` and `tok2.rs` before `tok10.rs`; otherwise as text.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
                let (na, nb) = (digits(a), digits(b));
                let (ta, tb) = (
                    a[..na].trim_start_matches('0'),
                    b[..nb].trim_start_matches('0'),
                );
                let order = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[na..], &b[nb..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

#[cfg(test)]
mod natural_tests {
    use super::{count, natural_cmp};

    #[test]
    fn a_count_agrees_with_its_noun() {
        assert_eq!(
            count(1u64, "GitHub request", "GitHub requests"),
            "1 GitHub request"
        );
        assert_eq!(count(0usize, "file", "files"), "0 files");
        assert_eq!(count(14i64, "file", "files"), "14 files");
    }

    #[test]
    fn numbers_in_names_order_by_value() {
        let mut names = vec![
            "AP-10", "AP-2", "AP-1", "tok10.rs", "tok2.rs", "AP-02x", "b", "a",
        ];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            names,
            [
                "AP-1", "AP-2", "AP-02x", "AP-10", "a", "b", "tok2.rs", "tok10.rs"
            ]
        );
    }
}
