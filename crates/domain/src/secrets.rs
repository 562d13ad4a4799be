//! Secrets at rest: a project's GitHub token and webhook secret are stored sealed with
//! XChaCha20-Poly1305 under a key from configuration, never in the database. Each sealed value
//! names its key, so keys rotate: a new current key seals from then on, and the previous ones still
//! open what they sealed. The associated data binds a value to its row (tenant, project, kind), so
//! a sealed token copied onto another project does not open.

use crate::DomainError;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::collections::HashMap;
use std::sync::Arc;

/// Bytes of a key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// The keys secrets are sealed with.
#[derive(Clone)]
pub struct SecretKeys {
    current: String,
    keys: Arc<HashMap<String, XChaCha20Poly1305>>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKeys")
            .field("current", &self.current)
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// A value as stored: which key sealed it, and the nonce followed by the ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The key's id.
    pub key_id: String,
    /// Nonce, then ciphertext and tag.
    pub blob: Vec<u8>,
}

impl SecretKeys {
    /// `current` seals; it and every `previous` key open.
    pub fn new(
        current: (String, [u8; KEY_BYTES]),
        previous: impl IntoIterator<Item = (String, [u8; KEY_BYTES])>,
    ) -> Self {
        let mut keys: HashMap<String, XChaCha20Poly1305> = previous
            .into_iter()
            .map(|(id, key)| (id, XChaCha20Poly1305::new(&key.into())))
            .collect();
        keys.insert(current.0.clone(), XChaCha20Poly1305::new(&current.1.into()));
        Self {
            current: current.0,
            keys: Arc::new(keys),
        }
    }

    /// A key written as base64 (what `openssl rand -base64 32` prints).
    pub fn parse_key(text: &str) -> Result<[u8; KEY_BYTES], String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("not base64: {e}"))?;
        <[u8; KEY_BYTES]>::try_from(bytes.as_slice())
            .map_err(|_| format!("must be {KEY_BYTES} bytes, not {}", bytes.len()))
    }

    /// A new random key, as base64.
    pub fn generate_key() -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; KEY_BYTES]>())
    }

    /// Seals `plain` for the row `context` names.
    pub(crate) fn seal(&self, plain: &[u8], context: &str) -> Result<Sealed, DomainError> {
        let cipher = self
            .keys
            .get(&self.current)
            .ok_or_else(|| DomainError::Internal("the current secret key is missing".into()))?;
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| DomainError::Internal("sealing a secret failed".into()))?;
        let mut blob = nonce.to_vec();
        blob.extend(sealed);
        Ok(Sealed {
            key_id: self.current.clone(),
            blob,
        })
    }

    /// Opens what [`SecretKeys::seal`] sealed for the same `context`. A value sealed under a key
    /// no longer configured, or tampered with, is an internal error (logged, never shown).
    pub(crate) fn open(&self, sealed: &Sealed, context: &str) -> Result<Vec<u8>, DomainError> {
        let cipher = self.keys.get(&sealed.key_id).ok_or_else(|| {
            DomainError::Internal(format!(
                "a secret is sealed with key {:?}, which is not configured",
                sealed.key_id
            ))
        })?;
        if sealed.blob.len() < NONCE_BYTES {
            return Err(DomainError::Internal("a sealed secret is too short".into()));
        }
        let (nonce, ciphertext) = sealed.blob.split_at(NONCE_BYTES);
        let nonce = <[u8; NONCE_BYTES]>::try_from(nonce)
            .map_err(|_| DomainError::Internal("a sealed secret is too short".into()))?;
        cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| DomainError::Internal("a sealed secret does not open".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_open_under_their_key_and_context_only_and_keys_rotate() {
        let old = SecretKeys::new(("1".into(), [7; KEY_BYTES]), []);
        let sealed = old.seal(b"ghp_secret", "project:a:github_token").unwrap();
        assert_eq!(sealed.key_id, "1");
        assert!(!sealed.blob.windows(10).any(|w| w == b"ghp_secret"));
        assert_eq!(
            old.open(&sealed, "project:a:github_token").unwrap(),
            b"ghp_secret"
        );
        // Copied onto another project, it does not open.
        assert!(old.open(&sealed, "project:b:github_token").is_err());
        // Rotated: a new key seals, the old one still opens what it sealed.
        let rotated = SecretKeys::new(("2".into(), [9; KEY_BYTES]), [("1".into(), [7; KEY_BYTES])]);
        assert_eq!(
            rotated.open(&sealed, "project:a:github_token").unwrap(),
            b"ghp_secret"
        );
        assert_eq!(rotated.seal(b"x", "c").unwrap().key_id, "2");
        // Without the old key, it is an error, not garbage.
        let forgotten = SecretKeys::new(("2".into(), [9; KEY_BYTES]), []);
        assert!(forgotten.open(&sealed, "project:a:github_token").is_err());
        // Tampered with: refused.
        let mut tampered = sealed.clone();
        let last = tampered.blob.len() - 1;
        tampered.blob[last] ^= 1;
        assert!(old.open(&tampered, "project:a:github_token").is_err());
        assert!(SecretKeys::parse_key(&SecretKeys::generate_key()).is_ok());
        assert!(SecretKeys::parse_key("c2hvcnQ=").is_err());
    }
}
