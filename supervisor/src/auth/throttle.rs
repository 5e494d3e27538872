//! Login throttling per account and per client address, in memory.
//!
//! Each key keeps the times of its recent failures (a sliding window).
//! When the failures inside the window reach the limit, the key is locked
//! for a fixed time and its history starts afresh when the lock ends. By
//! default an account locks after 5 failures in 15 minutes and an address
//! after 20; both locks last 15 minutes. A locked key is refused before the
//! password is checked, so a locked login costs no hashing.
//!
//! The maps are bounded: past [`ThrottleLimits::max_tracked`] keys, stale
//! entries go first, then the unlocked entry idle longest, then the lock
//! that ends soonest. State lives in one process and is lost on restart.
//!
//! NOTE: an attacker who knows a username can keep that account locked by
//! failing on purpose; the per-address limit slows this but does not stop a
//! distributed attempt. This is the usual trade-off of account lockout.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest account name kept as a throttle key, in characters. Longer names
/// share the key of their first 128 characters, which only makes
/// throttling stricter.
const MAX_ACCOUNT_KEY_CHARS: usize = 128;

/// Limits for one kind of throttle key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures inside `window` that lock the key.
    pub max_failures: usize,
    /// Length of the sliding window.
    pub window: Duration,
    /// How long a lock lasts.
    pub lockout: Duration,
    /// Most keys tracked at once; bounds memory under a spray of names or
    /// addresses.
    pub max_tracked: usize,
}

impl ThrottleLimits {
    /// Default limits per account: 5 failures in 15 minutes lock the
    /// account for 15 minutes. Five leaves room for typos.
    pub const ACCOUNT: Self = Self {
        max_failures: 5,
        window: Duration::from_secs(15 * 60),
        lockout: Duration::from_secs(15 * 60),
        max_tracked: 10_000,
    };

    /// Default limits per client address: 20 failures in 15 minutes lock
    /// the address for 15 minutes. Higher than per account because several
    /// users may share one address behind NAT.
    pub const ADDRESS: Self = Self {
        max_failures: 20,
        window: Duration::from_secs(15 * 60),
        lockout: Duration::from_secs(15 * 60),
        max_tracked: 10_000,
    };
}

/// A refused login attempt: the account or the address is locked.
///
/// The message does not say which, so it reveals nothing about the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Time until the longest of the applicable locks ends.
    pub retry_after: Duration,
}

impl Throttled {
    /// Returns `retry_after` in whole seconds, rounded up and at least 1,
    /// for the `Retry-After` response header.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        secs.max(1)
    }
}

impl std::fmt::Display for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "too many failed logins: try again in {} s",
            self.retry_after_secs()
        )
    }
}

impl std::error::Error for Throttled {}

/// What a new lock applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockSubject {
    /// An account name as normalised for throttling (trimmed, lowercase).
    Account(String),
    /// A client address; IPv6 addresses are reduced to their /64 prefix.
    Address(IpAddr),
}

/// A lock that a failure has just started, for the caller to audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEvent {
    /// The locked account or address.
    pub subject: LockSubject,
    /// How long the lock lasts.
    pub locked_for: Duration,
}

/// Failure counts and locks per account and per address.
///
/// Methods take `&self` and lock an internal mutex, so one instance can be
/// shared between request handlers through an `Arc`.
#[derive(Debug)]
pub struct LoginThrottle {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    accounts: Tracker<String>,
    addresses: Tracker<IpAddr>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(ThrottleLimits::ACCOUNT, ThrottleLimits::ADDRESS)
    }
}

impl LoginThrottle {
    /// Creates a throttle with the given limits per account and per address.
    pub fn new(account: ThrottleLimits, address: ThrottleLimits) -> Self {
        Self {
            state: Mutex::new(State {
                accounts: Tracker::new(account),
                addresses: Tracker::new(address),
            }),
        }
    }

    /// Checks whether a login for `account` from `address` may proceed at
    /// `now`; call it before verifying the password.
    pub fn check(&self, account: &str, address: IpAddr, now: Instant) -> Result<(), Throttled> {
        let state = self.lock();
        let account_wait = state.accounts.retry_after(&account_key(account), now);
        let address_wait = state.addresses.retry_after(&address_key(address), now);
        match account_wait.max(address_wait) {
            Some(retry_after) => Err(Throttled { retry_after }),
            None => Ok(()),
        }
    }

    /// Records a failed login and returns the locks it started (none, the
    /// account's, the address's or both).
    pub fn record_failure(&self, account: &str, address: IpAddr, now: Instant) -> Vec<LockEvent> {
        let mut state = self.lock();
        let account = account_key(account);
        let address = address_key(address);
        let mut events = Vec::new();
        if let Some(locked_for) = state.accounts.record_failure(account.clone(), now) {
            events.push(LockEvent {
                subject: LockSubject::Account(account),
                locked_for,
            });
        }
        if let Some(locked_for) = state.addresses.record_failure(address, now) {
            events.push(LockEvent {
                subject: LockSubject::Address(address),
                locked_for,
            });
        }
        events
    }

    /// Records a successful login: clears the account's failures.
    ///
    /// The address's failures stay, so an attacker who owns one account
    /// cannot reset their address's count by logging into it between
    /// guesses at other accounts.
    pub fn record_success(&self, account: &str) {
        self.lock().accounts.remove(&account_key(account));
    }

    /// Locks the state; a panic in another thread leaves counts that are
    /// still usable, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Normalises an account name so that case and surrounding spaces do not
/// give an attacker extra attempts.
fn account_key(account: &str) -> String {
    account
        .trim()
        .chars()
        .take(MAX_ACCOUNT_KEY_CHARS)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Normalises an address: IPv4-mapped IPv6 becomes IPv4, and other IPv6
/// addresses become their /64 prefix, because one client usually holds a
/// whole /64.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & (u128::MAX << 64);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[derive(Debug)]
struct Entry {
    /// Failure times inside the window, oldest first.
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
    last_seen: Instant,
}

impl Entry {
    fn is_locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    fn is_stale(&self, now: Instant, window: Duration) -> bool {
        !self.is_locked(now)
            && self
                .failures
                .back()
                .is_none_or(|&last| now.saturating_duration_since(last) >= window)
    }
}

#[derive(Debug)]
struct Tracker<K> {
    limits: ThrottleLimits,
    entries: HashMap<K, Entry>,
}

impl<K: Eq + Hash + Clone> Tracker<K> {
    fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
        }
    }

    fn retry_after(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.locked_until?;
        (until > now).then(|| until.saturating_duration_since(now))
    }

    /// Records a failure; returns the lock duration when this failure
    /// locks the key.
    fn record_failure(&mut self, key: K, now: Instant) -> Option<Duration> {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.limits.max_tracked {
            self.evict(now);
        }
        let limits = self.limits;
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            failures: VecDeque::new(),
            locked_until: None,
            last_seen: now,
        });
        entry.last_seen = now;

        // A failure while locked (a request that passed `check` just before
        // the lock) neither extends the lock nor counts afterwards.
        if entry.is_locked(now) {
            return None;
        }
        if entry.locked_until.take().is_some() {
            entry.failures.clear();
        }

        while entry
            .failures
            .front()
            .is_some_and(|&first| now.saturating_duration_since(first) >= limits.window)
        {
            entry.failures.pop_front();
        }
        entry.failures.push_back(now);

        if entry.failures.len() >= limits.max_failures {
            entry.failures.clear();
            entry.locked_until = Some(now + limits.lockout);
            return Some(limits.lockout);
        }
        None
    }

    fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Makes room for one more key.
    fn evict(&mut self, now: Instant) {
        let window = self.limits.window;
        self.entries.retain(|_, entry| !entry.is_stale(now, window));
        if self.entries.len() < self.limits.max_tracked {
            return;
        }

        // Unlocked entries sort before locked ones, then by idle time for
        // unlocked entries and by lock end for locked ones, so a lock is
        // dropped only when every tracked key is locked.
        let victim = self
            .entries
            .iter()
            .min_by_key(|(_, entry)| match entry.locked_until {
                Some(until) if until > now => (true, until),
                _ => (false, entry.last_seen),
            })
            .map(|(key, _)| key.clone());
        if let Some(key) = victim {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn address(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn fail_times(
        throttle: &LoginThrottle,
        account: &str,
        from: IpAddr,
        count: usize,
        now: Instant,
    ) -> Vec<LockEvent> {
        (0..count)
            .flat_map(|_| throttle.record_failure(account, from, now))
            .collect()
    }

    #[test]
    fn fresh_login_allowed() {
        let throttle = LoginThrottle::default();
        assert_eq!(throttle.check("alice", address(1), Instant::now()), Ok(()));
    }

    #[test]
    fn four_failures_allowed() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 4, now);
        assert_eq!(throttle.check("alice", address(1), now), Ok(()));
    }

    #[test]
    fn fifth_failure_locks_account() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let events = fail_times(&throttle, "alice", address(1), 5, now);
        assert_eq!(
            events,
            vec![LockEvent {
                subject: LockSubject::Account("alice".to_string()),
                locked_for: 15 * MINUTE,
            }]
        );
    }

    #[test]
    fn locked_account_refused_everywhere() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 5, now);
        let result = throttle.check("alice", address(2), now + MINUTE);
        assert_eq!(
            result,
            Err(Throttled {
                retry_after: 14 * MINUTE
            })
        );
    }

    #[test]
    fn lock_ends_after_lockout() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 5, now);
        assert_eq!(
            throttle.check("alice", address(1), now + 15 * MINUTE),
            Ok(())
        );
    }

    #[test]
    fn history_resets_after_lock() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 5, now);
        let later = now + 16 * MINUTE;
        let events = fail_times(&throttle, "alice", address(1), 4, later);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn failures_while_locked_do_not_extend() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 5, now);
        fail_times(&throttle, "alice", address(1), 3, now + 10 * MINUTE);
        assert_eq!(
            throttle.check("alice", address(1), now + 15 * MINUTE),
            Ok(())
        );
    }

    #[test]
    fn old_failures_slide_out() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 4, now);
        let events = fail_times(&throttle, "alice", address(1), 1, now + 15 * MINUTE);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn failures_inside_window_count() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 4, now);
        let events = fail_times(&throttle, "alice", address(1), 1, now + 14 * MINUTE);
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn success_clears_account() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        fail_times(&throttle, "alice", address(1), 4, now);
        throttle.record_success("alice");
        let events = fail_times(&throttle, "alice", address(1), 4, now);
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn success_keeps_address_count() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for index in 0..19 {
            throttle.record_failure(&format!("user{index}"), address(1), now);
        }
        throttle.record_success("mallory");
        let events = throttle.record_failure("user19", address(1), now);
        assert_eq!(
            events,
            vec![LockEvent {
                subject: LockSubject::Address(address(1)),
                locked_for: 15 * MINUTE,
            }]
        );
    }

    #[test]
    fn locked_address_refused_for_any_account() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for index in 0..20 {
            throttle.record_failure(&format!("user{index}"), address(1), now);
        }
        assert!(throttle.check("someone-new", address(1), now).is_err());
    }

    #[test]
    fn other_address_unaffected() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for index in 0..20 {
            throttle.record_failure(&format!("user{index}"), address(1), now);
        }
        assert_eq!(throttle.check("someone-new", address(2), now), Ok(()));
    }

    #[test]
    fn both_locks_reported() {
        let throttle = LoginThrottle::new(
            ThrottleLimits::ACCOUNT,
            ThrottleLimits {
                max_failures: 5,
                ..ThrottleLimits::ADDRESS
            },
        );
        let events = fail_times(&throttle, "alice", address(1), 5, Instant::now());
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn account_names_normalized() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for name in ["Alice", " alice", "ALICE ", "alice", "aLiCe"] {
            throttle.record_failure(name, address(1), now);
        }
        assert!(throttle.check("alice", address(2), now).is_err());
    }

    #[test]
    fn ipv6_grouped_by_prefix() {
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let second: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(address_key(first), address_key(second));
    }

    #[test]
    fn ipv6_prefixes_differ() {
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let second: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_ne!(address_key(first), address_key(second));
    }

    #[test]
    fn mapped_ipv4_unwrapped() {
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), address(1));
    }

    #[test]
    fn retry_after_secs_rounds_up() {
        let throttled = Throttled {
            retry_after: Duration::from_millis(899_500),
        };
        assert_eq!(throttled.retry_after_secs(), 900);
    }

    #[test]
    fn retry_after_message_rounds_up() {
        let message = Throttled {
            retry_after: Duration::from_millis(200),
        }
        .to_string();
        assert_eq!(message, "too many failed logins: try again in 1 s");
    }

    fn small_throttle() -> LoginThrottle {
        let limits = ThrottleLimits {
            max_failures: 2,
            window: 15 * MINUTE,
            lockout: 15 * MINUTE,
            max_tracked: 3,
        };
        LoginThrottle::new(limits, limits)
    }

    fn tracked_accounts(throttle: &LoginThrottle) -> usize {
        throttle.lock().accounts.entries.len()
    }

    #[test]
    fn tracked_keys_capped() {
        let throttle = small_throttle();
        let now = Instant::now();
        for index in 0..10 {
            throttle.record_failure(&format!("user{index}"), address(index), now);
        }
        assert_eq!(tracked_accounts(&throttle), 3);
    }

    #[test]
    fn eviction_prefers_oldest_unlocked() {
        let throttle = small_throttle();
        let now = Instant::now();
        fail_times(&throttle, "locked", address(1), 2, now);
        throttle.record_failure("old", address(2), now + MINUTE);
        throttle.record_failure("newer", address(3), now + 2 * MINUTE);
        throttle.record_failure("newest", address(4), now + 3 * MINUTE);
        let state = throttle.lock();
        assert!(state.accounts.entries.contains_key("locked"));
        assert!(!state.accounts.entries.contains_key("old"));
        assert!(state.accounts.entries.contains_key("newest"));
    }

    #[test]
    fn eviction_drops_stale_first() {
        let throttle = small_throttle();
        let now = Instant::now();
        throttle.record_failure("stale", address(1), now);
        throttle.record_failure("recent1", address(2), now + 10 * MINUTE);
        throttle.record_failure("recent2", address(3), now + 11 * MINUTE);
        throttle.record_failure("recent3", address(4), now + 16 * MINUTE);
        let state = throttle.lock();
        assert!(!state.accounts.entries.contains_key("stale"));
        assert!(state.accounts.entries.contains_key("recent1"));
    }

    #[test]
    fn all_locked_evicts_soonest_end() {
        let throttle = small_throttle();
        let now = Instant::now();
        for (offset, name) in ["first", "second", "third"].into_iter().enumerate() {
            let at = now + MINUTE * offset as u32;
            fail_times(&throttle, name, address(1), 2, at);
        }
        fail_times(&throttle, "fourth", address(2), 1, now + 4 * MINUTE);
        let state = throttle.lock();
        assert!(!state.accounts.entries.contains_key("first"));
        assert!(state.accounts.entries.contains_key("second"));
    }
}
