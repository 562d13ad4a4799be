//! The keys that seal secrets at rest, from configuration, or, when none is configured, from a key
//! file Cairn generates in its data directory on first start (so the embedded defaults work with
//! nothing to set up, and the key still never enters the database).

use crate::config::Settings;
use anyhow::Context;
use domain::secrets::SecretKeys;
use secrecy::ExposeSecret;
use std::io::Write;

/// The configured keys.
pub fn load(settings: &Settings) -> anyhow::Result<SecretKeys> {
    let config = &settings.secrets;
    let current = match &config.key {
        Some(key) => SecretKeys::parse_key(key.expose_secret())
            .map_err(|e| anyhow::anyhow!("secrets.key: {e}"))?,
        None => key_file(&settings.data_dir.join("secret.key"))?,
    };
    let mut previous = Vec::new();
    for (id, key) in &config.previous_keys {
        let key = SecretKeys::parse_key(key.expose_secret())
            .map_err(|e| anyhow::anyhow!("secrets.previous_keys.{id}: {e}"))?;
        previous.push((id.clone(), key));
    }
    Ok(SecretKeys::new((config.key_id.clone(), current), previous))
}

/// Reads the key file, creating it (mode 0600) with a new key when it does not exist.
fn key_file(path: &std::path::Path) -> anyhow::Result<[u8; domain::secrets::KEY_BYTES]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return SecretKeys::parse_key(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key = SecretKeys::generate_key();
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?
    };
    file.write_all(key.as_bytes())?;
    tracing::info!(path = %path.display(), "generated the key that seals secrets; back it up with the database");
    SecretKeys::parse_key(&key).map_err(|e| anyhow::anyhow!(e))
}
