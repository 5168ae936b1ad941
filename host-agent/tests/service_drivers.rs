//! Service drivers against small scripts written for the test: an LSB
//! script, an OCF agent that follows the OCF spec, a stand-in `systemctl`,
//! and supervised commands.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use warden_agent::drivers::process::is_alive;
use warden_agent::drivers::service::{LsbScript, OcfAgent, Respawn, SupervisedCommand, SupervisedState, SystemdUnit};
use warden_agent::resource::{ErrorKind, Health, Presence, Resource};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Polls `done` every 10 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// One test at a time. A script being written is open for writing; a
/// process started meanwhile by another test's thread holds a copy of that
/// descriptor between its fork and its exec, and running the script then
/// fails with "Text file busy" (ETXTBSY).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_script(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn unhealthy(health: Health) -> String {
    match health {
        Health::Unhealthy(why) => why,
        Health::Healthy => panic!("expected unhealthy"),
    }
}

/// A heartbeat/LSB script. The last argument is the action; the others are
/// logged. `$DIR/force-ACTION` holds an exit code to return instead.
const LSB_SCRIPT: &str = r#"#!/bin/sh
DIR=$(dirname "$0")/..
for last; do :; done
echo "$*" >> "$DIR/calls"
if [ -f "$DIR/force-$last" ]; then echo "forced $last"; exit "$(cat "$DIR/force-$last")"; fi
case "$last" in
  start) touch "$DIR/running"; echo started ;;
  stop) rm -f "$DIR/running" ;;
  status) if [ -f "$DIR/running" ]; then echo running; exit 0; else echo stopped; exit 3; fi ;;
  *) exit 3 ;;
esac
"#;

#[test]
fn lsb_script_lifecycle_and_exit_codes() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("ha.d");
    let init = dir.path().join("init.d");
    fs::create_dir_all(&empty).unwrap();
    write_script(&init.join("maid"), LSB_SCRIPT);
    let mut script = LsbScript::new("maid::vacuum::fast", vec![empty.clone(), init.clone()], TIMEOUT).unwrap();
    assert_eq!(script.resolve().unwrap(), init.join("maid"));

    assert_eq!(script.probe().unwrap(), Presence::Inactive);
    let why = unhealthy(script.monitor().unwrap());
    assert!(why.contains("not running") && why.contains("maid"), "{why}");
    script.start().unwrap();
    assert_eq!(script.probe().unwrap(), Presence::Active);
    assert_eq!(script.monitor().unwrap(), Health::Healthy);
    script.stop().unwrap();
    assert_eq!(script.probe().unwrap(), Presence::Inactive);
    let calls = fs::read_to_string(dir.path().join("calls")).unwrap();
    // heartbeat's order: arguments first, then the action.
    assert!(calls.lines().all(|l| l.starts_with("vacuum fast ")), "{calls}");
    assert!(calls.contains("vacuum fast start\n") && calls.contains("vacuum fast stop\n"), "{calls}");

    let force = |action: &str, code: &str| fs::write(dir.path().join(format!("force-{action}")), code).unwrap();
    for (code, kind) in [
        ("1", ErrorKind::Failed),
        ("2", ErrorKind::Config),
        ("4", ErrorKind::Permission),
        ("5", ErrorKind::NotInstalled),
        ("6", ErrorKind::Config),
    ] {
        force("start", code);
        let err = script.start().unwrap_err();
        assert_eq!(err.kind, kind, "start exit {code}: {}", err.message);
        assert!(err.message.contains("maid") && err.message.contains("start") && err.message.contains("forced start"));
    }
    // A stop answering "not running" got what it wanted.
    force("stop", "7");
    script.stop().unwrap();
    force("stop", "1");
    assert_eq!(script.stop().unwrap_err().kind, ErrorKind::Failed);
    // status 1 (dead but pid file exists) and 4 (unknown) are not "inactive".
    force("status", "1");
    assert_eq!(script.probe().unwrap(), Presence::Unknown);
    assert!(unhealthy(script.monitor().unwrap()).contains("dead but pid file exists"));
    force("status", "4");
    assert_eq!(script.probe().unwrap(), Presence::Unknown);

    let mut missing = LsbScript::new("nosuch", vec![empty.clone(), init.clone()], TIMEOUT).unwrap();
    let err = missing.start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotInstalled);
    assert!(err.message.contains("nosuch") && err.message.contains(&init.display().to_string()), "{}", err.message);
    assert_eq!(LsbScript::new("a/b", vec![], TIMEOUT).unwrap_err().kind, ErrorKind::Config);
    assert_eq!(LsbScript::new("maid::", vec![], TIMEOUT).unwrap_err().kind, ErrorKind::Config);
    let default = LsbScript::new("IPaddr::10.0.0.5", vec![], TIMEOUT).unwrap();
    assert_eq!(default.args(), ["10.0.0.5"]);
}

#[test]
fn script_timeout_kills_its_process_group() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let child = dir.path().join("child.pid");
    write_script(
        &dir.path().join("init.d/hang"),
        &format!("#!/bin/sh\nsleep 300 &\necho $! > {}\nwait\n", child.display()),
    );
    let mut script = LsbScript::new("hang", vec![dir.path().join("init.d")], Duration::from_millis(500)).unwrap();
    let started = Instant::now();
    let err = script.start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{}", err.message);
    assert!(err.message.contains("hang") && err.message.contains("start"), "{}", err.message);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let pid = read_pid(&child).expect("the script wrote its child's pid");
    assert!(wait_until(Duration::from_secs(5), || !is_alive(pid)), "child {pid} of the timed-out script survived");
}

/// An OCF agent following the OCF spec. Parameters: `state_dir` (required),
/// `fail_action`/`fail_code` to make one action answer a given code.
const OCF_AGENT: &str = r#"#!/bin/sh
: ${OCF_ROOT:?} ${OCF_RESOURCE_INSTANCE:?}
OCF_SUCCESS=0; OCF_ERR_GENERIC=1; OCF_ERR_ARGS=2; OCF_ERR_UNIMPLEMENTED=3; OCF_ERR_CONFIGURED=6; OCF_NOT_RUNNING=7
STATE="$OCF_RESKEY_state_dir/$OCF_RESOURCE_INSTANCE.running"

meta_data() {
cat <<END
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="$OCF_RESOURCE_TYPE" version="1.0">
<version>1.0</version>
<shortdesc lang="en">Test agent</shortdesc>
<longdesc lang="en">Keeps a state file while running.</longdesc>
<parameters>
<parameter name="state_dir" required="1" unique="0"><shortdesc lang="en">state directory</shortdesc><content type="string"/></parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/><action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s"/><action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="20s"/>
</actions>
</resource-agent>
END
}

validate() {
  [ -n "$OCF_RESKEY_state_dir" ] || { echo "state_dir is required"; return $OCF_ERR_CONFIGURED; }
  [ -d "$OCF_RESKEY_state_dir" ] || { echo "state_dir $OCF_RESKEY_state_dir missing"; return $OCF_ERR_ARGS; }
  return $OCF_SUCCESS
}

monitor() { [ -f "$STATE" ] && return $OCF_SUCCESS || return $OCF_NOT_RUNNING; }

if [ "$1" = "$OCF_RESKEY_fail_action" ]; then echo "failing $1 on purpose"; exit "$OCF_RESKEY_fail_code"; fi
case "$1" in
  meta-data) meta_data; exit $OCF_SUCCESS ;;
  validate-all) validate; exit $? ;;
  start) validate || exit $?; monitor && exit $OCF_SUCCESS
         env | grep '^OCF_' | sort > "$OCF_RESKEY_state_dir/env"; touch "$STATE"; exit $OCF_SUCCESS ;;
  stop) validate || exit $?; rm -f "$STATE"; exit $OCF_SUCCESS ;;
  monitor) validate || exit $?; monitor; exit $? ;;
  *) exit $OCF_ERR_UNIMPLEMENTED ;;
esac
"#;

fn ocf(root: &Path, instance: &str, params: &[(&str, &str)]) -> OcfAgent {
    let params = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    OcfAgent::new(Some(root.to_owned()), "warden-test", "Stateful", instance, params, TIMEOUT).unwrap()
}

#[test]
fn ocf_agent_lifecycle_environment_and_exit_codes() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ocf");
    write_script(&root.join("resource.d/warden-test/Stateful"), OCF_AGENT);
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    let state_dir = state.to_str().unwrap();

    let mut agent = ocf(&root, "web-1", &[("state_dir", state_dir)]);
    assert_eq!(agent.path(), root.join("resource.d/warden-test/Stateful"));
    assert!(agent.meta_data().unwrap().contains("<resource-agent name=\"Stateful\""));
    agent.validate().unwrap();
    // monitor → 7 → not running.
    assert_eq!(agent.probe().unwrap(), Presence::Inactive);
    let why = unhealthy(agent.monitor().unwrap());
    assert!(why.contains("not running") && why.contains("web-1"), "{why}");
    // Stopping what is not running succeeds.
    agent.stop().unwrap();
    agent.start().unwrap();
    agent.start().unwrap();
    assert_eq!(agent.probe().unwrap(), Presence::Active);
    assert_eq!(agent.monitor().unwrap(), Health::Healthy);
    let env = fs::read_to_string(state.join("env")).unwrap();
    for line in [
        format!("OCF_ROOT={}", root.display()),
        "OCF_RA_VERSION_MAJOR=1".to_owned(),
        "OCF_RA_VERSION_MINOR=0".to_owned(),
        "OCF_RESOURCE_INSTANCE=web-1".to_owned(),
        "OCF_RESOURCE_TYPE=Stateful".to_owned(),
        format!("OCF_RESKEY_state_dir={state_dir}"),
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line} in\n{env}");
    }
    agent.stop().unwrap();
    assert_eq!(agent.probe().unwrap(), Presence::Inactive);

    // validate-all refusing the configuration.
    let unconfigured = ocf(&root, "web-2", &[]);
    let err = unconfigured.validate().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("validate-all") && err.message.contains("state_dir is required"), "{}", err.message);
    let mut bad_args = ocf(&root, "web-3", &[("state_dir", "/nonexistent/warden-state")]);
    assert_eq!(bad_args.start().unwrap_err().kind, ErrorKind::Config);

    // Every code of every action.
    let failing = |action: &str, code: &str| {
        ocf(&root, "web-4", &[("state_dir", state_dir), ("fail_action", action), ("fail_code", code)])
    };
    for (code, kind) in [
        ("1", ErrorKind::Failed),
        ("2", ErrorKind::Config),
        ("3", ErrorKind::Failed),
        ("4", ErrorKind::Permission),
        ("5", ErrorKind::NotInstalled),
        ("6", ErrorKind::Config),
        ("7", ErrorKind::Failed),
    ] {
        let err = failing("start", code).start().unwrap_err();
        assert_eq!(err.kind, kind, "start exit {code}: {}", err.message);
        assert!(err.message.contains("Stateful start") && err.message.contains("failing start on purpose"));
    }
    failing("stop", "7").stop().unwrap();
    assert_eq!(failing("stop", "1").stop().unwrap_err().kind, ErrorKind::Failed);
    assert_eq!(failing("monitor", "0").probe().unwrap(), Presence::Active);
    assert_eq!(failing("monitor", "7").probe().unwrap(), Presence::Inactive);
    assert_eq!(failing("monitor", "1").probe().unwrap(), Presence::Unknown);
    assert!(unhealthy(failing("monitor", "1").monitor().unwrap()).contains("failing monitor on purpose"));
    assert_eq!(failing("monitor", "5").probe().unwrap_err().kind, ErrorKind::NotInstalled);
    assert_eq!(failing("monitor", "6").monitor().unwrap_err().kind, ErrorKind::Config);
    assert_eq!(failing("monitor", "2").probe().unwrap_err().kind, ErrorKind::Config);
    assert_eq!(failing("monitor", "4").probe().unwrap_err().kind, ErrorKind::Permission);

    let mut missing = OcfAgent::new(Some(root.clone()), "warden-test", "Nope", "x", vec![], TIMEOUT).unwrap();
    let err = missing.start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotInstalled);
    assert!(err.message.contains("resource.d/warden-test/Nope"), "{}", err.message);
    let bad = OcfAgent::new(None, "heartbeat", "IPaddr2", "ip", vec![("bad-name".into(), "x".into())], TIMEOUT);
    assert_eq!(bad.unwrap_err().kind, ErrorKind::Config);
    assert_eq!(OcfAgent::new(None, "../x", "IPaddr2", "ip", vec![], TIMEOUT).unwrap_err().kind, ErrorKind::Config);
}

/// A stand-in for `systemctl`: units are files in its directory.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
DIR=$(dirname "$0")
echo "$*" >> "$DIR/calls"
verb=$1; unit=$2
[ -f "$DIR/$unit.missing" ] && { echo "Unit $unit not found."; exit 5; }
case "$verb" in
  start) touch "$DIR/$unit.active" ;;
  stop) rm -f "$DIR/$unit.active" ;;
  is-active)
    if [ -f "$DIR/$unit.activating" ]; then echo activating; exit 3; fi
    if [ -f "$DIR/$unit.active" ]; then echo active; exit 0; fi
    echo inactive; exit 3 ;;
esac
"#;

#[test]
fn systemd_unit_through_systemctl() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let systemctl = dir.path().join("systemctl");
    write_script(&systemctl, FAKE_SYSTEMCTL);
    let mut unit = SystemdUnit::with_systemctl("web.service", systemctl.clone(), TIMEOUT).unwrap();
    assert_eq!(unit.probe().unwrap(), Presence::Inactive);
    // Stopping an inactive unit runs no stop.
    unit.stop().unwrap();
    unit.start().unwrap();
    assert_eq!(unit.probe().unwrap(), Presence::Active);
    assert_eq!(unit.monitor().unwrap(), Health::Healthy);
    unit.stop().unwrap();
    assert_eq!(unit.probe().unwrap(), Presence::Inactive);
    assert!(unhealthy(unit.monitor().unwrap()).contains("web.service is inactive"));
    let calls = fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [
            "is-active web.service",
            "is-active web.service",
            "start web.service",
            "is-active web.service",
            "is-active web.service",
            "is-active web.service",
            "stop web.service",
            "is-active web.service",
            "is-active web.service"
        ]
    );

    fs::write(dir.path().join("web.service.activating"), "").unwrap();
    assert_eq!(unit.probe().unwrap(), Presence::Unknown);
    fs::write(dir.path().join("db.service.missing"), "").unwrap();
    let mut missing = SystemdUnit::with_systemctl("db.service", systemctl, TIMEOUT).unwrap();
    let err = missing.start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotInstalled);
    assert!(err.message.contains("db.service start") && err.message.contains("not found"), "{}", err.message);
    assert_eq!(SystemdUnit::new("-H evil", TIMEOUT).unwrap_err().kind, ErrorKind::Config);
}

fn sh(script: String) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script]
}

fn fast_respawn() -> Respawn {
    Respawn {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        stable_after: Duration::from_secs(30),
    }
}

#[test]
fn supervised_command_respawns_with_backoff() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("spawns");
    let mut command =
        SupervisedCommand::new(sh(format!("date +%s%N >> {}; exit 1", log.display())), fast_respawn(), TIMEOUT)
            .unwrap();
    command.start().unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || fs::read_to_string(&log).is_ok_and(|text| text.lines().count() >= 5)),
        "spawned {} times",
        command.spawns()
    );
    command.stop().unwrap();
    assert_eq!(command.state(), SupervisedState::Stopped);
    assert!(!command.is_supervising());
    assert_eq!(command.probe().unwrap(), Presence::Inactive);
    let spawned_after_stop = command.spawns();

    let times: Vec<u128> = fs::read_to_string(&log).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    // The last spawn may have been stopped before it wrote its line.
    assert!(
        times.len() as u64 <= spawned_after_stop && times.len() >= 5,
        "{} lines, {spawned_after_stop} spawns",
        times.len()
    );
    let gaps_ms: Vec<u128> = times.windows(2).map(|w| (w[1] - w[0]) / 1_000_000).collect();
    // 100, 200, 400, 400 ms (doubling, capped), plus the run time of each.
    for (gap, least) in gaps_ms.iter().zip([100, 200, 400, 400]) {
        assert!(*gap >= least - 5, "gaps {gaps_ms:?}");
    }
}

#[test]
fn supervised_command_exit_100_is_not_respawned() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("spawns");
    let mut command =
        SupervisedCommand::new(sh(format!("echo ran >> {}; exit 100", log.display())), fast_respawn(), TIMEOUT)
            .unwrap();
    command.start().unwrap();
    let state = command.wait_for(Duration::from_secs(10), |s| matches!(s, SupervisedState::GaveUp { .. }));
    assert_eq!(state, SupervisedState::GaveUp { last_exit: "exit 100".into() });
    // The supervisor has ended, so nothing can respawn it any more.
    assert!(wait_until(Duration::from_secs(5), || !command.is_supervising()));
    assert_eq!(command.spawns(), 1);
    assert_eq!(fs::read_to_string(&log).unwrap(), "ran\n");
    assert_eq!(command.probe().unwrap(), Presence::Inactive);
    assert!(unhealthy(command.monitor().unwrap()).contains("asked not to be respawned"));
    // It can be started again, by hand.
    command.start().unwrap();
    command.wait_for(Duration::from_secs(10), |s| matches!(s, SupervisedState::GaveUp { .. }));
    assert_eq!(command.spawns(), 2);
    command.stop().unwrap();
}

#[test]
fn supervised_command_without_respawn_runs_once_and_keeps_its_pid_file_only_while_running() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("spawns");
    let gate = dir.path().join("gate");
    let pid_file = dir.path().join("state").join("cmd.pid");
    let script =
        format!("echo ran >> {}; while [ ! -e {} ]; do sleep 0.05; done; exit 1", log.display(), gate.display());
    let mut command =
        SupervisedCommand::new(sh(script), fast_respawn(), TIMEOUT).unwrap().without_respawn().with_pid_file(&pid_file);
    command.start().unwrap();
    let pid = command.pid().unwrap();
    let recorded: u32 = fs::read_to_string(&pid_file).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(recorded, pid);
    assert_eq!(command.adopted(), None, "its own process is supervised, not adopted");
    fs::write(&gate, "").unwrap();
    let state = command.wait_for(Duration::from_secs(10), |s| matches!(s, SupervisedState::GaveUp { .. }));
    assert_eq!(state, SupervisedState::GaveUp { last_exit: "exit 1".into() });
    assert!(wait_until(Duration::from_secs(5), || !command.is_supervising()));
    assert_eq!(command.spawns(), 1);
    assert_eq!(fs::read_to_string(&log).unwrap(), "ran\n");
    assert!(!pid_file.exists(), "an ended command leaves no pid file");
    assert!(unhealthy(command.monitor().unwrap()).contains("not respawned"));
    assert_eq!(command.probe().unwrap(), Presence::Inactive);
    command.stop().unwrap();
}

#[test]
fn supervised_command_stop_ends_the_whole_group() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let child = dir.path().join("child.pid");
    let mut command =
        SupervisedCommand::new(sh(format!("sleep 300 & echo $! > {}; wait", child.display())), fast_respawn(), TIMEOUT)
            .unwrap();
    command.start().unwrap();
    let leader = command.pid().unwrap();
    command.start().unwrap();
    assert_eq!((command.pid(), command.spawns()), (Some(leader), 1), "a second start does nothing");
    assert!(wait_until(Duration::from_secs(10), || read_pid(&child).is_some()));
    let child_pid = read_pid(&child).unwrap();
    assert_eq!(command.probe().unwrap(), Presence::Active);
    assert_eq!(command.monitor().unwrap(), Health::Healthy);
    command.stop().unwrap();
    assert!(!is_alive(leader));
    assert!(wait_until(Duration::from_secs(5), || !is_alive(child_pid)), "grandchild {child_pid} survived");
    assert_eq!(command.spawns(), 1, "not respawned after stop");
}

#[test]
fn supervised_command_ignoring_term_is_killed_after_grace() {
    let _one = one_at_a_time();
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let grace = Duration::from_millis(300);
    let mut command = SupervisedCommand::new(
        sh(format!("trap '' TERM; touch {}; while :; do sleep 1; done", ready.display())),
        fast_respawn(),
        grace,
    )
    .unwrap();
    command.start().unwrap();
    let pid = command.pid().unwrap();
    assert!(wait_until(Duration::from_secs(10), || ready.exists()));
    let started = Instant::now();
    command.stop().unwrap();
    let took = started.elapsed();
    assert!(took >= grace && took < Duration::from_secs(5), "took {took:?}");
    assert!(!is_alive(pid));
}

#[test]
fn supervised_command_missing_program() {
    let _one = one_at_a_time();
    let mut command =
        SupervisedCommand::new(vec!["/nonexistent/warden-daemon".into()], Respawn::default(), TIMEOUT).unwrap();
    let err = command.start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotInstalled);
    assert!(err.message.contains("/nonexistent/warden-daemon"), "{}", err.message);
    assert_eq!(command.probe().unwrap(), Presence::Inactive);
}
