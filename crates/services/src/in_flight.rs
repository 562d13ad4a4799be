//! Work in flight, counted per key (a team, a user) and for the instance: a slot is taken before
//! the work starts and given back when its guard is dropped, however the work ends. Counts are
//! this process's own: each instance allows its share.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// At most `per_key` slots of one key and `in_all` of the process at once.
pub struct InFlight<K> {
    taken: Arc<Mutex<Taken<K>>>,
    per_key: usize,
    in_all: usize,
}

impl<K> Clone for InFlight<K> {
    fn clone(&self) -> Self {
        Self {
            taken: self.taken.clone(),
            per_key: self.per_key,
            in_all: self.in_all,
        }
    }
}

impl<K> std::fmt::Debug for InFlight<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("per_key", &self.per_key)
            .field("in_all", &self.in_all)
            .finish_non_exhaustive()
    }
}

struct Taken<K> {
    by_key: HashMap<K, usize>,
    in_all: usize,
}

/// Which limit a refused slot met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The key has its share.
    Key,
    /// The process has.
    All,
}

/// One slot, given back when dropped.
pub struct Slot<K: Hash + Eq + Copy> {
    taken: Arc<Mutex<Taken<K>>>,
    key: K,
}

impl<K: Hash + Eq + Copy> InFlight<K> {
    /// At most `per_key` slots per key and `in_all` in all (each at least 1).
    pub fn new(per_key: usize, in_all: usize) -> Self {
        Self {
            taken: Arc::new(Mutex::new(Taken {
                by_key: HashMap::new(),
                in_all: 0,
            })),
            per_key: per_key.max(1),
            in_all: in_all.max(1),
        }
    }

    /// A slot for `key`, unless the key or the process has all it may.
    pub fn take(&self, key: K) -> Result<Slot<K>, Full> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if taken.by_key.get(&key).copied().unwrap_or(0) >= self.per_key {
            return Err(Full::Key);
        }
        if taken.in_all >= self.in_all {
            return Err(Full::All);
        }
        *taken.by_key.entry(key).or_default() += 1;
        taken.in_all += 1;
        Ok(Slot {
            taken: self.taken.clone(),
            key,
        })
    }

    /// Slots taken now, in all.
    pub fn in_use(&self) -> usize {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).in_all
    }
}

impl<K: Hash + Eq + Copy> Drop for Slot<K> {
    fn drop(&mut self) {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        taken.in_all = taken.in_all.saturating_sub(1);
        if let Some(n) = taken.by_key.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                taken.by_key.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_limited_per_key_and_in_all_and_come_back_when_dropped() {
        let slots = InFlight::new(2, 3);
        let a1 = slots.take('a').unwrap();
        let _a2 = slots.take('a').unwrap();
        assert_eq!(slots.take('a').err(), Some(Full::Key));
        let _b1 = slots.take('b').unwrap();
        assert_eq!(slots.take('b').err(), Some(Full::All));
        drop(a1);
        assert_eq!(slots.in_use(), 2);
        assert!(slots.take('b').is_ok());
    }
}
