//! `warden-rig`'s help names every scenario and the campaign's options, and
//! its options refuse bad input with a message naming it (no root needed:
//! nothing is built before the options are checked).

use std::process::Command;

fn rig(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden-rig")).args(args).output().expect("warden-rig did not start");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn the_help_names_every_scenario_and_the_campaign() {
    let (code, help) = rig(&["scenario", "--help"]);
    assert_eq!(code, 0, "{help}");
    for name in warden_rig::runs::scenario::Scenario::ALL.map(|s| s.name()) {
        assert!(help.contains(name), "`warden-rig scenario --help` does not name {name}:\n{help}");
    }
    let (code, help) = rig(&["campaign", "--help"]);
    assert_eq!(code, 0, "{help}");
    for option in ["--runs", "--seed", "--controller", "both", "runs=N violations=V lost_writes=W liveness_failures=L"]
    {
        assert!(help.contains(option), "`warden-rig campaign --help` does not say {option}:\n{help}");
    }
}

#[test]
fn bad_rig_options_are_refused_by_name() {
    for (args, says) in [
        (&["scenario", "power-loss", "--servers", "5"][..], "--servers"),
        (&["scenario", "power-loss", "--group", "svc=alpha,omega"], "`omega` is not a server"),
        (&["scenario", "power-loss", "--group", "svc=alpha+ipv7"], "unknown `+ipv7`"),
        (&["scenario", "power-loss", "--controller", "both"], "only a campaign runs both controllers"),
        (&["scenario", "power-loss", "--plant", "everything"], "--plant everything: unknown"),
        (
            &["scenario", "power-loss", "--controller", "qemu", "--plant", "no-damping"],
            "planted in the Linux controller",
        ),
        (&["campaign", "--runs", "0"], "--runs"),
        (&["campaign", "--servers", "3"], "--servers: a campaign draws each run's cluster itself"),
        (&["campaign", "--controller", "both", "--plant", "no-damping"], "planted in the Linux controller"),
    ] {
        let (code, text) = rig(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.contains(says), "{args:?} should say {says}: {text}");
    }
}
