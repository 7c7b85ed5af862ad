#!/usr/bin/env bash
# Builds the Debian package (metadata: [package.metadata.deb] in Cargo.toml) into target/debian/
# and prints its path as the last line of stdout. Installs the pinned cargo-deb first when it is
# missing or another version, and Debian's dpkg-dev (dpkg-shlibdeps, for the Depends: line)
# when it is missing and this runs as root. Arguments go to `cargo deb` (e.g. --fast).
# The release build is cargo's own: a fresh `cargo build --release` is reused as is.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0

need() { command -v "$1" >/dev/null 2>&1; }
need cargo || { echo "package.sh: cargo not found: install Rust with rustup first" >&2; exit 1; }

have=$(cargo deb --version 2>/dev/null || true)
if [ "$have" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "package.sh: installing cargo-deb $CARGO_DEB_VERSION (found: ${have:-none})" >&2
  cargo install --locked --force "cargo-deb@$CARGO_DEB_VERSION" >&2
fi

if ! need dpkg-shlibdeps; then
  if [ "$(id -u)" = 0 ] && need apt-get; then
    echo "package.sh: installing dpkg-dev (dpkg-shlibdeps)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev; } >/dev/null
  else
    echo "package.sh: dpkg-shlibdeps not found: install dpkg-dev" >&2
    exit 1
  fi
fi

# cargo deb prints progress on stderr and the package's path on stdout.
deb=$(cargo deb --locked "$@" | tail -n 1)
[ -f "$deb" ] || { echo "package.sh: cargo deb did not report a package (got: '$deb')" >&2; exit 1; }

# cargo-deb writes no md5sums control file (dpkg --verify and debsums read it): unpack, add it,
# repack with root as owner, as dpkg-buildpackage would have built it.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$deb" "$work/root"
( cd "$work/root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
    | xargs -0 -r md5sum > DEBIAN/md5sums )
chmod 644 "$work/root/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz -b "$work/root" "$deb" >/dev/null
echo "$deb"
