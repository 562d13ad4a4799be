//! Password hashing behind a bound. Each argon2id hash works in about 19 MiB; left unbounded, a burst
//! of sign-ups or log-ins (which need no session) would take that much memory per request. Hashes
//! run on the blocking pool only while holding a permit, and the permits are sized from a memory
//! budget. A request that cannot get one within a short wait is answered `Unavailable` with a
//! `Retry-After`, never left to exhaust memory.
//!
//! The working memory itself is allocated once per permit and reused: letting each hash allocate
//! and free its 19 MiB leaves the allocator's per-thread arenas holding freed blocks, and a burst of
//! 300 sign-ups measured 2.5 GiB resident with only 13 hashes ever running at once.

use crate::DomainError;
use api::accounts::NewPassword;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use std::sync::{Arc, Mutex};
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
    /// Working memory of finished hashes, for the next ones (at most `capacity` sets).
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
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
            memory: Arc::new(Mutex::new(Vec::with_capacity(capacity))),
        }
    }

    /// How many hashes may run at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The PHC string of `password` (argon2id with the default parameters, a fresh salt).
    pub async fn hash(&self, password: &NewPassword) -> Result<String, DomainError> {
        let password = password.expose().to_owned();
        self.run(Params::DEFAULT.block_count(), move |memory| {
            hash_with(password.as_bytes(), memory)
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
        let blocks = stored
            .as_deref()
            .and_then(|stored| PasswordHash::new(stored).ok())
            .and_then(|hash| Params::try_from(&hash).ok())
            .map_or(Params::DEFAULT.block_count(), |params| params.block_count());
        self.run(blocks, move |memory| match stored {
            Some(stored) => verify_with(password.as_bytes(), &stored, memory).unwrap_or(false),
            None => {
                let _ = hash_with(password.as_bytes(), memory);
                false
            }
        })
        .await
    }

    /// Runs `work` on the blocking pool with `blocks` of working memory, once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        blocks: usize,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
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
        let pool = self.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let reused = pool.lock().ok().and_then(|mut pool| {
                pool.iter()
                    .position(|m| m.len() == blocks)
                    .map(|i| pool.swap_remove(i))
            });
            let mut memory = reused.unwrap_or_else(|| vec![Block::default(); blocks]);
            let result = work(&mut memory);
            // Only the usual size is kept: a stored hash with other parameters is rare.
            if blocks == Params::DEFAULT.block_count()
                && let Ok(mut pool) = pool.lock()
            {
                pool.push(memory);
            }
            result
        })
        .await
        .map_err(|e| DomainError::Internal(format!("password hashing task: {e}")))
    }
}

fn hash_with(
    password: &[u8],
    memory: &mut [Block],
) -> Result<String, argon2::password_hash::Error> {
    let salt = new_salt()?;
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let params = Params::DEFAULT;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory)?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    }
    .to_string())
}

fn verify_with(
    password: &[u8],
    stored: &str,
    memory: &mut [Block],
) -> Result<bool, argon2::password_hash::Error> {
    let hash = PasswordHash::new(stored)?;
    let algorithm = Algorithm::try_from(hash.algorithm)?;
    let version = hash
        .version
        .map(Version::try_from)
        .transpose()?
        .unwrap_or_default();
    let params = Params::try_from(&hash)?;
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Ok(false);
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt_bytes, &mut out, memory)?;
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out)? == expected)
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
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        // Hashes made by the argon2 crate's own PHC path (accounts from before) still verify.
        use argon2::password_hash::PasswordHasher as _;
        let salt = new_salt().unwrap();
        let legacy = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(
            hasher
                .verify("correct horse battery", Some(legacy.clone()))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("wrong", Some(legacy)).await.unwrap());
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
