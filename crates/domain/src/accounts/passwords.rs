//! Password hashing behind a bound. Each argon2id hash holds about 19 MiB for its duration; left
//! unbounded, a burst of sign-ups or log-ins (which need no session) would take that much memory per
//! request. Hashes run on the blocking pool only while holding a permit, and the permits are sized
//! from a memory budget. A request that cannot get one within a short wait is answered
//! `Unavailable` with a `Retry-After`, never left to exhaust memory.

use crate::DomainError;
use api::accounts::NewPassword;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use rand::RngCore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Memory one argon2id hash with the default parameters holds (m = 19,456 KiB).
pub const MIB_PER_HASH: u64 = 19;

/// Hashes and verifies passwords, at most as many at once as the memory budget allows.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    capacity: usize,
    wait: Duration,
}

impl Default for PasswordHasher {
    /// 256 MiB (13 hashes at once), waiting up to 5 seconds for a turn.
    fn default() -> Self {
        Self::with_memory_budget(256, Duration::from_secs(5))
    }
}

impl PasswordHasher {
    /// As many hashes at once as fit in `budget_mib` (at least one); a request waits up to `wait`.
    pub fn with_memory_budget(budget_mib: u64, wait: Duration) -> Self {
        let capacity = usize::try_from((budget_mib / MIB_PER_HASH).max(1)).unwrap_or(1);
        Self {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            wait,
        }
    }

    /// How many hashes may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The PHC string of `password` (argon2id, a fresh salt).
    pub async fn hash(&self, password: &NewPassword) -> Result<String, DomainError> {
        let password = password.expose().to_owned();
        self.run(move || {
            let salt = new_salt().map_err(|e| e.to_string())?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| e.to_string())
        })
        .await?
        .map_err(|e| DomainError::Internal(format!("hashing a password: {e}")))
    }

    /// Whether `password` matches `stored` (a PHC string). With nothing stored (an unknown
    /// address) a hash is still computed, so both answers take as long.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<String>,
    ) -> Result<bool, DomainError> {
        let password = password.to_owned();
        self.run(move || {
            let argon2 = Argon2::default();
            match stored.as_deref().map(PasswordHash::new) {
                Some(Ok(hash)) => argon2.verify_password(password.as_bytes(), &hash).is_ok(),
                Some(Err(_)) | None => {
                    if let Ok(salt) = new_salt() {
                        let _ = argon2.hash_password(password.as_bytes(), &salt);
                    }
                    false
                }
            }
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, DomainError> {
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) | Err(_) => {
                    tracing::warn!(capacity = self.capacity, "password hashing is saturated");
                    return Err(DomainError::Unavailable {
                        service: "signing in".into(),
                        retry_after_secs: Some(self.wait.as_secs().max(1)),
                    });
                }
            };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| DomainError::Internal(format!("password hashing task: {e}")))
    }
}

fn new_salt() -> Result<SaltString, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    SaltString::encode_b64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_sets_how_many_hash_at_once_and_the_rest_wait_then_fail_clearly() {
        assert_eq!(
            PasswordHasher::with_memory_budget(256, Duration::ZERO).capacity(),
            13
        );
        assert_eq!(
            PasswordHasher::with_memory_budget(1, Duration::ZERO).capacity(),
            1
        );

        let hasher = PasswordHasher::with_memory_budget(MIB_PER_HASH, Duration::from_millis(50));
        let held = hasher.permits.clone().acquire_owned().await.unwrap();
        let password = NewPassword::parse("correct horse battery").unwrap();
        match hasher.hash(&password).await {
            Err(DomainError::Unavailable {
                retry_after_secs: Some(secs),
                ..
            }) => assert!(secs >= 1),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        drop(held);
        let stored = hasher.hash(&password).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            hasher
                .verify("correct horse battery", Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong", Some(stored)).await.unwrap());
        assert!(!hasher.verify("anything", None).await.unwrap());
    }
}
