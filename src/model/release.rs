//! OpenClaw releases as the tool compares them.

/// A release, as `(year, month, patch)`: `2026.7.35` → `(2026, 7, 35)`.
pub type Release = (u32, u32, u32);

/// Parses `2026.7.35` (anything after a `-` or `+` ignored); `None` for anything else.
pub fn parse_version(v: &str) -> Option<Release> {
    let core = v.trim().split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u32>().ok());
    let r = (it.next()??, it.next()??, it.next().flatten().unwrap_or(0));
    it.next().is_none().then_some(r)
}
