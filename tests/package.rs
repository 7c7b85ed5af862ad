//! The Debian package, as `scripts/package.sh` builds it with cargo-deb: it holds exactly the
//! expected files, each byte for byte its source in the repo (man pages gzipped); dpkg installs
//! it into a scratch root, running its maintainer scripts there, and leaves no unit enabled; and
//! the installed binary prints Cargo's version.
//!
//! Needs root (dpkg chroots into the scratch root to run the maintainer scripts), dpkg and
//! gzip; package.sh installs the pinned cargo-deb when it is missing. The package reuses the
//! release binary that `cargo test --release` has just built, so this takes seconds.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use zaki_locks::cli::docs;

const BIN_MODE: &str = "-rwxr-xr-x";
const FILE_MODE: &str = "-rw-r--r--";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} did not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A file the package must hold: its mode, and the repo file it must equal (gunzipped first
/// when `gzipped`); `None` for the binary, which is checked by running it.
struct Want {
    mode: &'static str,
    source: Option<PathBuf>,
    gzipped: bool,
}

/// Every file the package must hold, by path in the package (`./usr/...`, as `dpkg-deb -c`
/// prints them). Man pages and completions come from the same lists as the generated files, so
/// a new subcommand or shell is expected here too.
fn expected() -> BTreeMap<String, Want> {
    let mut want = BTreeMap::new();
    let mut file = |path: &str, source: &str| {
        want.insert(
            format!("./{path}"),
            Want {
                mode: FILE_MODE,
                source: Some(repo().join(source)),
                gzipped: false,
            },
        );
    };
    for (_, name) in docs::COMPLETION_FILES {
        let dest = match name {
            "zaki-locks.bash" => "usr/share/bash-completion/completions/zaki-locks",
            "_zaki-locks" => "usr/share/zsh/vendor-completions/_zaki-locks",
            "zaki-locks.fish" => "usr/share/fish/vendor_completions.d/zaki-locks.fish",
            other => panic!("no place in the package for the completion file {other}"),
        };
        file(dest, &format!("completions/{name}"));
    }
    file("usr/share/doc/zaki-locks/README.md", "README.md");
    for doc in fs::read_dir(repo().join("docs")).unwrap() {
        let name = doc.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            file(
                &format!("usr/share/doc/zaki-locks/docs/{name}"),
                &format!("docs/{name}"),
            );
        }
    }
    file("usr/share/doc/zaki-locks/copyright", "LICENSE");
    file(
        "usr/share/zaki-locks/prometheus/zaki-locks.rules.yml",
        "contrib/prometheus/zaki-locks.rules.yml",
    );
    for unit in [
        "zaki-locks-clean.service",
        "zaki-locks-clean.timer",
        "zaki-locks-watch.service",
    ] {
        file(
            &format!("usr/lib/systemd/system/{unit}"),
            &format!("scripts/systemd/{unit}"),
        );
    }
    want.insert(
        "./usr/share/doc/zaki-locks/changelog.Debian.gz".to_owned(),
        Want {
            mode: FILE_MODE,
            source: Some(repo().join("scripts/debian/changelog")),
            gzipped: true,
        },
    );
    for (name, _) in docs::man_pages() {
        want.insert(
            format!("./usr/share/man/man1/{name}.gz"),
            Want {
                mode: FILE_MODE,
                source: Some(repo().join("man").join(&name)),
                gzipped: true,
            },
        );
    }
    want.insert(
        "./usr/bin/zaki-locks".to_owned(),
        Want {
            mode: BIN_MODE,
            source: None,
            gzipped: false,
        },
    );
    want
}

/// `dpkg-deb -c`: every non-directory entry as path -> (mode, owner).
fn listing(deb: &Path) -> BTreeMap<String, (String, String)> {
    let out = run(Command::new("dpkg-deb").arg("-c").arg(deb));
    let listing = text(&out.stdout);
    eprintln!("dpkg-deb -c {}:\n{listing}", deb.display());
    let mut files = BTreeMap::new();
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(fields.len() >= 6, "unexpected dpkg-deb -c line: {line:?}");
        if fields[0].starts_with('d') {
            continue;
        }
        files.insert(
            fields[5..].join(" "),
            (fields[0].to_owned(), fields[1].to_owned()),
        );
    }
    files
}

/// A scratch root that dpkg can install into and run maintainer scripts in: its own dpkg
/// database, and just enough to run `/bin/sh` (the host's, with its libraries) after chroot.
fn scratch_root(root: &Path) {
    for dir in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "bin", "dev"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    // A plain file is enough for the scripts' `>/dev/null`.
    fs::write(root.join("dev/null"), "").unwrap();
    fs::copy("/bin/sh", root.join("bin/sh")).unwrap();
    let ldd = run(Command::new("ldd").arg("/bin/sh"));
    for lib in text(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = root.join(lib.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copying {lib}: {e}"));
    }
}

#[test]
fn debian_package_holds_everything_and_installs() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root: dpkg chroots into the scratch root to run the package's maintainer scripts"
    );
    let version = env!("CARGO_PKG_VERSION");

    // Build. Under `cargo test --release` (as scripts/test.sh runs it) this run has just built
    // target/release/zaki-locks, so cargo-deb packages it as is (--no-build): a `cargo build`
    // would build it again without the dev-dependencies' features and replace the file under
    // the other tests' feet. Under a debug `cargo test`, package.sh builds the release itself.
    let start = Instant::now();
    let bin = Path::new(env!("CARGO_BIN_EXE_zaki-locks"));
    let prebuilt = bin.parent().and_then(Path::file_name) == Some("release".as_ref());
    let out = run(Command::new("bash")
        .arg(repo().join("scripts/package.sh"))
        .args(prebuilt.then_some("--no-build"))
        .current_dir(repo()));
    let stdout = text(&out.stdout);
    let deb = PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("package.sh printed the path")
            .trim(),
    );
    eprintln!(
        "scripts/package.sh: {} in {:.1}s",
        deb.display(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("zaki-locks_{version}-1_amd64.deb")
    );

    // Exactly the expected files, with the right modes, owned by root.
    let want = expected();
    let have = listing(&deb);
    let missing: Vec<&String> = want.keys().filter(|p| !have.contains_key(*p)).collect();
    let extra: Vec<&String> = have.keys().filter(|p| !want.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "package contents differ: missing {missing:?}, unexpected {extra:?}"
    );
    for (path, (mode, owner)) in &have {
        assert_eq!(mode, want[path].mode, "mode of {path}");
        // cargo-deb writes ids, dpkg-deb --root-owner-group (package.sh's repack) names.
        assert!(
            owner == "0/0" || owner == "root/root",
            "owner of {path}: {owner}"
        );
    }

    // The control fields.
    let field = |name: &str| {
        let out = run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name));
        text(&out.stdout).trim().to_owned()
    };
    assert_eq!(field("Package"), "zaki-locks");
    assert_eq!(field("Version"), format!("{version}-1"));
    assert_eq!(field("Section"), "admin");
    assert_eq!(field("Priority"), "optional");
    assert!(
        field("Depends").starts_with("libc6"),
        "Depends: {}",
        field("Depends")
    );

    // Install into a scratch root with dpkg: unpack, then configure (the postinst runs there).
    // --force-depends: the scratch root has no libc6 package (its files are the host's).
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    scratch_root(root);
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg(format!("--log={}", root.join("dpkg.log").display()))
        .args(["--force-depends", "--install"])
        .arg(&deb));
    let status = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--status", "zaki-locks"]));
    assert!(
        text(&status.stdout).contains("Status: install ok installed"),
        "{}",
        text(&status.stdout)
    );

    // Each installed file is its source.
    for (path, w) in &want {
        let Some(source) = &w.source else { continue };
        let installed = root.join(path.trim_start_matches("./"));
        let content = if w.gzipped {
            run(Command::new("gzip").arg("-dc").arg(&installed)).stdout
        } else {
            fs::read(&installed).unwrap()
        };
        assert!(
            content == fs::read(source).unwrap(),
            "{path} is not {}",
            source.display()
        );
    }

    // Installed, nothing is enabled: no symlink under /etc/systemd.
    assert!(
        !root.join("etc/systemd").exists(),
        "the package enabled a unit: {:?}",
        fs::read_dir(root.join("etc/systemd")).map(|d| d.count())
    );
    if Command::new("systemctl").arg("--version").output().is_ok() {
        let out = Command::new("systemctl")
            .arg(format!("--root={}", root.display()))
            .args(["is-enabled", "zaki-locks-clean.timer"])
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout).trim(), "disabled");
    }

    // The md5sums control file lists every file, with its digest (dpkg --verify, debsums).
    let control = scratch.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
    let sums = fs::read_to_string(control.join("md5sums")).expect("an md5sums control file");
    let listed: BTreeMap<String, String> = sums
        .lines()
        .map(|l| {
            let (sum, path) = l.split_once("  ").expect("md5sum line");
            (format!("./{path}"), sum.to_owned())
        })
        .collect();
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "md5sums lists other files"
    );
    let verify = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--verify", "zaki-locks"]));
    assert!(
        verify.stdout.is_empty(),
        "dpkg --verify: {}",
        text(&verify.stdout)
    );

    // lintian: no error (E:) tag.
    if Command::new("lintian").arg("--version").output().is_err() {
        panic!("lintian is not installed: run scripts/test.sh (it installs it)");
    }
    let l = Command::new("lintian")
        .args(["--tag-display-limit", "0", "--fail-on", "error"])
        .arg(&deb)
        .output()
        .unwrap();
    let report = text(&l.stdout);
    eprintln!("lintian:\n{report}{}", text(&l.stderr));
    assert!(
        l.status.success() && !report.lines().any(|x| x.starts_with("E: ")),
        "lintian errors:\n{report}"
    );

    // The installed binary runs and is this version.
    let out = run(Command::new(root.join("usr/bin/zaki-locks")).arg("--version"));
    assert_eq!(text(&out.stdout).trim(), format!("zaki-locks {version}"));
    eprintln!("whole test: {:.1}s", start.elapsed().as_secs_f64());
}

/// The units the package ships keep the capabilities the holder check needs: without
/// `CAP_LEASE` the kernel refuses the write lease (F_SETLEASE) on a lock another uid (the
/// gateways' user) owns, and nobody could be seen holding it.
#[test]
fn the_units_keep_cap_lease() {
    for unit in ["zaki-locks-clean.service", "zaki-locks-watch.service"] {
        let text = fs::read_to_string(repo().join("scripts/systemd").join(unit)).unwrap();
        let mut bounded = false;
        for key in ["CapabilityBoundingSet=", "AmbientCapabilities="] {
            for line in text.lines().filter(|l| l.starts_with(key)) {
                bounded |= key == "CapabilityBoundingSet=";
                assert!(
                    line[key.len()..]
                        .split_whitespace()
                        .any(|c| c == "CAP_LEASE"),
                    "{unit}: {line}"
                );
            }
        }
        assert!(bounded, "{unit}: no CapabilityBoundingSet=");
    }
}
