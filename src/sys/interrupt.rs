//! SIGINT and SIGTERM during `clean`: finish the removal under way, remove nothing more, report,
//! and exit 130/143. Killing the process between renaming a lock aside and unlinking it (or
//! putting a slipped-in live lock back) would leave a half-done removal; this makes it whole.
//!
//! The run notices the signal between steps and ends by itself, with its report. Should it be
//! waiting on something outside (a Docker call or an exec that does not answer: a pass over
//! containers holds [`outside`]), a watchdog thread ends the process [`GRACE`] after the
//! signal, but never inside a removal: it takes the same lock every removal holds
//! ([`removal`]), so the run ends within a second whatever a tenant or the engine does. Work
//! of the run's own (walking and judging a host tree) is left to end by itself.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static CAUGHT: AtomicI32 = AtomicI32::new(0);

/// Held by every removal: the watchdog never ends the process while one is under way.
static REMOVING: Mutex<()> = Mutex::new(());

/// Passes under way that wait on Docker (see [`outside`]).
static OUTSIDE: AtomicUsize = AtomicUsize::new(0);

/// How long the run has to end by itself after a signal.
pub const GRACE: Duration = Duration::from_millis(700);

extern "C" fn on_signal(sig: nix::libc::c_int) {
    // Only an atomic store: async-signal-safe.
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// Installs the handlers (with `SA_RESTART`, so no I/O in progress fails with `EINTR`) and
/// the watchdog.
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        let _ = unsafe { sigaction(sig, &action) };
    }
    let _ = std::thread::Builder::new()
        .name("interrupt-watchdog".into())
        .spawn(watchdog);
}

fn watchdog() {
    let sig = loop {
        if let Some(sig) = caught() {
            break sig;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(GRACE);
    // Still running, and waiting on the outside: end it (a run busy with its own work ends by
    // itself between removals, report included).
    while OUTSIDE.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Wait for the removal under way, then end with no other starting.
    let _held = REMOVING.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "zaki-locks: interrupted by {sig}: stopped {} ms after it, between removals (the run's \
         report and metrics were not written)",
        GRACE.as_millis()
    );
    std::process::exit(128 + sig as i32);
}

/// Held while a pass may wait on Docker: the watchdog may end the run then.
pub struct Outside(());

/// Marks a pass that may wait on Docker, until dropped.
pub fn outside() -> Outside {
    OUTSIDE.fetch_add(1, Ordering::SeqCst);
    Outside(())
}

impl Drop for Outside {
    fn drop(&mut self) {
        OUTSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Held for the duration of one removal.
pub fn removal() -> MutexGuard<'static, ()> {
    REMOVING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The signal caught so far, if any.
pub fn caught() -> Option<Signal> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        n => Signal::try_from(n).ok(),
    }
}
