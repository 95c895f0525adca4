//! The open-file limit: every WebSocket session is a file descriptor, and the
//! usual soft limit (1024) would refuse connections long before `WS_MAX_SESSIONS`.
//! At start the server raises its soft limit to the hard limit, and says so in
//! the log when even that is too low for the sessions it is configured to hold.

use tracing::{info, warn};

/// Descriptors the server needs besides sessions: the listener, the database
/// pool, Redis, outgoing HTTP (scrapes, the order provider), logs.
const RESERVED: libc::rlim_t = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs the outcome;
/// `max_sessions` is what the limit should at least allow.
pub fn raise_for(max_sessions: usize) {
    let wanted = (max_sessions as libc::rlim_t).saturating_add(RESERVED);
    match raise_to_hard_limit() {
        Some((before, after)) => {
            if after > before {
                info!(before, after, "raised the open-file limit");
            }
            if after < wanted {
                warn!(
                    limit = after,
                    wanted,
                    "the open-file limit is below WS_MAX_SESSIONS plus what the server needs; raise it (ulimit -n) or lower WS_MAX_SESSIONS"
                );
            }
        }
        None => warn!("could not read or raise the open-file limit"),
    }
}

/// Raises the soft limit to the hard one: `(soft before, soft after)`, or `None`
/// where the platform says no. The load tool uses it for its own thousands of sockets.
#[cfg(unix)]
pub fn raise_to_hard_limit() -> Option<(libc::rlim_t, libc::rlim_t)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        let before = limit.rlim_cur;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Some((before, before));
            }
        }
        Some((before, limit.rlim_cur))
    }
}

/// No limits to raise here.
#[cfg(not(unix))]
pub fn raise_to_hard_limit() -> Option<(libc::rlim_t, libc::rlim_t)> {
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_limit() {
        let (before, after) = super::raise_to_hard_limit().expect("unix answers");
        assert!(after >= before);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        assert_eq!(limit.rlim_cur, after);
    }
}
