//! Hot reload: a new policy is validated in full before it replaces the old one,
//! atomically; a bad file never takes effect.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failure should stop the run loudly"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{HEADER, id};
use jsm_sso_core::{AccessPolicy, CodedError};
use jsm_sso_policy::{Format, PolicyHandle, load_file, load_str};

fn text(portal: &str) -> String {
    format!(
        "{HEADER}[[rule]]\nname = \"acme\"\nemail_domain = [\"acme.com\"]\nportals = [\"{portal}\"]\n"
    )
}

#[test]
fn a_valid_policy_replaces_the_old_one() {
    let handle = PolicyHandle::new(load_str(&text("2"), Format::Toml, "v1.toml").unwrap());
    let before = handle.current();
    assert_eq!(handle.evaluate(&id("okta", "a@acme.com")).portals, ["2"]);
    let new = handle.reload(&text("5"), Format::Toml, "v2.toml").unwrap();
    assert_eq!(handle.evaluate(&id("okta", "a@acme.com")).portals, ["5"]);
    assert_ne!(before.hash(), new.hash());
    assert_eq!(handle.current().origin(), "v2.toml");
    // A reader that took the old policy keeps a consistent view of it.
    assert_eq!(before.evaluate(&id("okta", "a@acme.com")).portals, ["2"]);
    // A policy compiled (and checked) elsewhere replaces it as well.
    let replaced = handle.replace(load_str(&text("7"), Format::Toml, "v3.toml").unwrap());
    assert_eq!(handle.evaluate(&id("okta", "a@acme.com")).portals, ["7"]);
    assert_eq!(replaced.hash(), handle.current().hash());
}

#[test]
fn a_bad_policy_never_takes_effect() {
    let handle = PolicyHandle::new(load_str(&text("2"), Format::Toml, "v1.toml").unwrap());
    let hash = handle.current().hash().to_owned();
    // Syntax error, semantic error, unknown portal: each refused, the old policy stays.
    for bad in [
        "version = 1\n[[rule]\n".to_owned(),
        text("9"),
        format!("{HEADER}[[rule]]\nname = \"x\"\nemail_domain = [\"*.com\"]\nportals = [\"2\"]\n"),
    ] {
        let err = handle.reload(&bad, Format::Toml, "bad.toml").unwrap_err();
        assert_eq!(err.code(), "policy.invalid");
        assert_eq!(handle.current().hash(), hash);
        assert_eq!(handle.evaluate(&id("okta", "a@acme.com")).portals, ["2"]);
    }
    let decision = handle.decide(&id("okta", "a@acme.com"));
    assert!(decision.is_allowed());
}

#[test]
fn reload_from_files() {
    let dir = std::env::temp_dir().join(format!("jsm-sso-policy-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, text("2")).unwrap();
    let handle = PolicyHandle::new(load_file(&path).unwrap());
    std::fs::write(&path, text("7")).unwrap();
    handle.reload_file(&path).unwrap();
    assert_eq!(handle.evaluate(&id("okta", "a@acme.com")).portals, ["7"]);
    std::fs::write(&path, "version = 1\nrule = 3\n").unwrap();
    let err = handle.reload_file(&path).unwrap_err();
    assert_eq!(err.code(), "policy.invalid");
    assert!(
        err.diagnostics()[0]
            .to_string()
            .starts_with(&format!("{}:2:", path.display()))
    );
    assert_eq!(handle.evaluate(&id("okta", "a@acme.com")).portals, ["7"]);

    let missing = handle.reload_file(&dir.join("nope.toml")).unwrap_err();
    assert_eq!(missing.code(), "policy.io");
    let txt = dir.join("policy.txt");
    std::fs::write(&txt, text("2")).unwrap();
    assert_eq!(load_file(&txt).unwrap_err().code(), "policy.format.unknown");
    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(load_file(&path).unwrap_err().code(), "policy.io");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn readers_see_one_policy_or_the_other_during_reloads() {
    let handle = Arc::new(PolicyHandle::new(
        load_str(&text("2"), Format::Toml, "a.toml").unwrap(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (handle, stop) = (Arc::clone(&handle), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut seen = 0usize;
                while !stop.load(Ordering::Relaxed) || seen == 0 {
                    let e = handle.evaluate(&id("okta", "a@acme.com"));
                    assert!(e.portals == ["2"] || e.portals == ["5"], "{:?}", e.portals);
                    seen += 1;
                }
                seen
            })
        })
        .collect();
    for i in 0..50 {
        let portal = if i % 2 == 0 { "5" } else { "2" };
        handle
            .reload(&text(portal), Format::Toml, "b.toml")
            .unwrap();
        assert!(
            handle
                .reload("version = 1\nbad", Format::Toml, "bad.toml")
                .is_err()
        );
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}
