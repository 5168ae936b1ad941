//! `pacemaker-fence`: the rig's controller as a fence device of Pacemaker.
//!
//! Pacemaker's fencer (with a one-node Corosync, as Pacemaker's own
//! `cts-fencing` runs it) on the client's network, with `fence_warden` in
//! its agent directory, driven by `stonith_admin`:
//!
//! 1. the agent's metadata (fence-agents' schema) and `--validate`;
//! 2. a device registered for the controller, Pacemaker's node names mapped
//!    to Warden's by `pcmk_host_map`; its targets listed;
//! 3. the holder fenced (`-F`): success only once the controller has the
//!    node fenced with its power sensed off, the relay cut and the server's
//!    processes gone, and the group taken over by the other server;
//! 4. the device's status, the node's status (`off`), the unfence (`-U`):
//!    the server boots as a standby holding nothing; the fence history (`-H`);
//! 5. failure paths, each of which must fence nothing: the controller
//!    unreachable, a wrong key, an unknown plug, and a relay whose contacts
//!    are welded (the sense never confirms: the fence fails; mended, the
//!    relay opens and the fence completes).

use std::path::Path;
use std::time::{Duration, Instant};

use super::cluster::Rig;
use super::config::OPERATOR_PORT;
use super::failover::is_console;
use crate::controller::console::ConsoleKind;
use crate::host::pacemaker::Fencer;
use crate::watch::timeline::Happening;
use crate::watch::verdict::Verdict;
use crate::RigError;

/// Pacemaker's name of Warden node `name` (mapped by `pcmk_host_map`).
fn pcmk(name: &str) -> String {
    format!("pcmk-{name}")
}

/// The alarm the welded relay provokes.
pub const WELDED_ALARM: &str = "power not confirmed off";

/// A `stonith_admin` run: exit status, output, and how long it took.
struct Admin {
    code: i32,
    text: String,
    took: Duration,
}

fn admin(fencer: &Fencer, args: &[&str]) -> Result<Admin, RigError> {
    let started = Instant::now();
    let out = fencer.admin(args)?;
    Ok(Admin {
        code: out.status.code().unwrap_or(-1),
        text: format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
            .trim()
            .to_owned(),
        took: started.elapsed(),
    })
}

/// One line of a command's output for a verdict's detail.
fn short(text: &str) -> String {
    let line: String = text.lines().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>().join(" / ");
    if line.is_empty() {
        "(no output)".to_owned()
    } else {
        line
    }
}

/// The device options for the controller at `ip`.
fn device(ip: &str, cluster_file: &Path, extra: &[String]) -> Vec<String> {
    let mut v = vec![
        format!("ip={ip}"),
        format!("ipport={OPERATOR_PORT}"),
        format!("cluster_file={}", cluster_file.display()),
        "power_timeout=10".to_owned(),
        "login_timeout=2".to_owned(),
    ];
    v.extend_from_slice(extra);
    v
}

fn register(fencer: &Fencer, id: &str, options: &[String]) -> Result<Admin, RigError> {
    let mut args = vec!["--register", id, "--agent", "fence_warden"];
    for o in options {
        args.push("--option");
        args.push(o);
    }
    admin(fencer, &args)
}

/// Whether server `node` had a relay switch or a power change since `t`.
fn touched(rig: &Rig, node: &str, t: Duration) -> Vec<String> {
    rig.timeline()
        .since(t)
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Relay { node: n, on } if n == node => Some(format!("relay {}", if *on { "on" } else { "off" })),
            Happening::PowerLost { node: n } if n == node => Some("power lost".to_owned()),
            _ => None,
        })
        .collect()
}

/// Pacemaker's fencer started beside `rig`, and what its devices need.
struct Setup {
    fencer: Fencer,
    /// The fencer's files.
    dir: std::path::PathBuf,
    /// The controller's address on the rig's network.
    ip: String,
    cluster_file: std::path::PathBuf,
    nodes: Vec<String>,
    /// `pcmk_host_map=pcmk-alpha:alpha;...`.
    map: String,
}

impl Setup {
    fn start(rig: &Rig) -> Result<Self, RigError> {
        let agent = rig.program("fence_warden")?;
        let dir = rig.run_dir().join("pacemaker");
        std::fs::create_dir_all(&dir).map_err(RigError::io(format!("creating {}", dir.display())))?;
        let fencer = Fencer::start(rig.client_netns(), &dir, &agent)?;
        let nodes = rig.nodes().to_vec();
        let host_map: Vec<String> = nodes.iter().map(|n| format!("{}:{n}", pcmk(n))).collect();
        Ok(Self {
            fencer,
            dir,
            ip: rig.layout().plan.controller.to_string(),
            cluster_file: rig.layout().run_dir.join("cluster.toml"),
            nodes,
            map: format!("pcmk_host_map={}", host_map.join(";")),
        })
    }
}

/// Runs the scenario on `rig`.
///
/// # Errors
///
/// [`RigError`] when the fencer cannot be started or an awaited event
/// never comes.
pub fn run(rig: &mut Rig, verdict: &mut Verdict) -> Result<(), RigError> {
    let Setup { fencer, dir, ip, cluster_file, nodes, map } = Setup::start(rig)?;

    // 1. Metadata and validation, as Pacemaker asks for them. (The fencer
    // adds attributes of its own to what it prints, so the schema is
    // checked on the agent's own output.)
    let meta = admin(&fencer, &["--metadata", "--agent", "fence_warden"])?;
    let own = fencer.agent("action=metadata\n")?;
    let schema = crate::host::pacemaker::validate_metadata(&String::from_utf8_lossy(&own.stdout));
    verdict.check(
        "fence_warden's metadata is valid against fence-agents' schema, and stonith_admin reads it",
        meta.code == 0 && meta.text.contains("resource-agent name=\"fence_warden\"") && schema.is_ok(),
        format!("stonith_admin --metadata: exit {}; xmllint: {}", meta.code, schema.unwrap_or_else(|e| e)),
    );
    let good = device(&ip, &cluster_file, &[]);
    let mut validate = vec!["--validate", "--agent", "fence_warden"];
    for o in &good {
        validate.push("--option");
        validate.push(o);
    }
    let valid = admin(&fencer, &validate)?;
    let mut bad = vec!["--validate", "--agent", "fence_warden", "--option", "cluster_file=/nonexistent/cluster.toml"];
    let ip_option = format!("ip={ip}");
    bad.extend(["--option", &ip_option]);
    let invalid = admin(&fencer, &bad)?;
    verdict.check(
        "stonith_admin --validate accepts the device and refuses a missing cluster file",
        valid.code == 0 && invalid.code != 0,
        format!(
            "good: exit {}, {}; missing cluster file: exit {}, {}",
            valid.code,
            short(&valid.text),
            invalid.code,
            short(&invalid.text)
        ),
    );

    // 2. The device, its targets.
    let mut options = good.clone();
    options.push(map.clone());
    let reg = register(&fencer, "warden", &options)?;
    let targets = admin(&fencer, &["--list-targets", "warden"])?;
    verdict.check(
        "a device registered for the controller lists its servers",
        reg.code == 0 && nodes.iter().all(|n| targets.text.contains(n.as_str())),
        format!("register: exit {} {}; targets: {}", reg.code, short(&reg.text), short(&targets.text)),
    );

    // 3. Fence the holder.
    let holder = rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
    let victim = rig.name(holder).to_owned();
    let other = nodes.iter().find(|n| **n != victim).cloned().unwrap_or_default();
    rig.wait_records(super::scenario::WINDOW_RECORDS)?;
    let t0 = rig.timeline().now();
    let fence = admin(&fencer, &["--fence", &pcmk(&victim), "--timeout", "30"])?;
    let returned = rig.timeline().now();
    rig.timeline().push(Happening::Note(format!("stonith_admin --fence {}: exit {}", pcmk(&victim), fence.code)));
    let status = rig.ask("status")?;
    let node = status["status"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == victim.as_str()))
        .cloned()
        .unwrap_or_default();
    let entries = rig.timeline().since(t0);
    let relay_off = entries.iter().find(|e| matches!(&e.what, Happening::Relay { node, on: false } if *node == victim));
    let power_lost = entries.iter().find(|e| matches!(&e.what, Happening::PowerLost { node } if *node == victim));
    let at = |e: Option<&crate::watch::timeline::Entry>| {
        e.map_or("never".to_owned(), |e| format!("{:.3} s", e.at.as_secs_f64()))
    };
    verdict.check(
        &format!("stonith_admin --fence {} succeeds only with {victim} fenced and its power sensed off", pcmk(&victim)),
        fence.code == 0
            && node["life"] == "fenced"
            && node["power"] == "off"
            && relay_off.is_some_and(|e| e.at <= returned)
            && power_lost.is_some_and(|e| e.at <= returned)
            && !rig.powered(holder),
        format!(
            "exit {} after {} ms; relay off at {}, processes gone at {}, returned at {:.3} s; the controller says {} / power {}",
            fence.code,
            fence.took.as_millis(),
            at(relay_off),
            at(power_lost),
            returned.as_secs_f64(),
            node["life"],
            node["power"]
        ),
    );
    rig.wait(&format!("the group placed on {other}"), t0, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Placed { node, .. } if *node == other))
    })?;
    rig.wait_records(super::scenario::WINDOW_RECORDS / 2)?;
    verdict.check(
        &format!("the group moved to {other}"),
        rig.holder().and_then(|i| nodes.get(i)) == Some(&other),
        format!("the address is on {}", rig.holder().map_or("no single server", |i| rig.name(i))),
    );
    verdict.timings = vec![("stonith_admin_fence", Some(fence.took))];

    // The same seen by an operator on a host with no agent.
    let (code, text) = rig.wardenctl_direct(&["status", "--json"])?;
    let direct: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
    let seen = direct["cluster"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == victim.as_str()))
        .cloned()
        .unwrap_or_default();
    let newest = direct["history"]["entries"][0].clone();
    let (bad_code, bad_text) = rig.wardenctl_direct(&["fence", "gamma"])?;
    verdict.check(
        &format!("wardenctl --controller, from a host with no agent, sees {victim} fenced, the fence in the history, and refuses an unknown node"),
        code == 0
            && seen["life"] == "fenced"
            && seen["powered"] == false
            && newest["node"] == victim.as_str()
            && newest["action"] == "fence"
            && newest["requested_by"] == "operator"
            && newest["result"] == "confirmed"
            && bad_code == 1
            && bad_text.contains("gamma"),
        format!(
            "status: exit {code}, {victim} {} / powered {}, newest fence {newest}; fence gamma: exit {bad_code}, {}",
            seen["life"],
            seen["powered"],
            short(&bad_text)
        ),
    );

    // 4. Status, unfence, history.
    let query = admin(&fencer, &["--query", "warden"])?;
    let plug_status = fencer.agent(&format!(
        "action=status\nplug={victim}\nip={ip}\nipport={OPERATOR_PORT}\ncluster_file={}\n",
        cluster_file.display()
    ))?;
    verdict.check(
        &format!("the device answers its monitor and says {victim} is off"),
        query.code == 0 && plug_status.status.code() == Some(2),
        format!(
            "--query: exit {}; fence_warden status {victim}: exit {:?} {}",
            query.code,
            plug_status.status.code(),
            short(&String::from_utf8_lossy(&plug_status.stdout))
        ),
    );
    let t1 = rig.timeline().now();
    let unfence = admin(&fencer, &["--unfence", &pcmk(&victim), "--timeout", "30"])?;
    rig.wait(&format!("{victim} up again"), t1, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::NodeUp(n) if *n == victim))
    })?;
    rig.wait_records(super::scenario::WINDOW_RECORDS / 2)?;
    let status = rig.ask("status")?;
    let node = status["status"]["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["name"] == victim.as_str()))
        .cloned()
        .unwrap_or_default();
    verdict.check(
        &format!("stonith_admin --unfence brings {victim} back as a standby holding nothing"),
        unfence.code == 0
            && node["life"] == "up"
            && node["holds"].as_array().is_some_and(Vec::is_empty)
            && rig.holder().and_then(|i| nodes.get(i)) == Some(&other),
        format!(
            "exit {} after {} ms; {victim} is {} holding {}",
            unfence.code,
            unfence.took.as_millis(),
            node["life"],
            node["holds"]
        ),
    );
    // --verbose: every recorded operation, not only the last fence.
    let history = admin(&fencer, &["--output-as=xml", "--verbose", "--history", &pcmk(&victim)])?;
    let has = |action: &str| {
        history.text.lines().any(|l| {
            l.contains(&format!("action=\"{action}\""))
                && l.contains(&format!("target=\"{}\"", pcmk(&victim)))
                && l.contains("status=\"success\"")
        })
    };
    verdict.check(
        "the fencer's history lists the fence and the unfence as successes",
        history.code == 0 && has("off") && has("on"),
        history.text.lines().filter(|l| l.contains("fence_event")).map(str::trim).collect::<Vec<_>>().join(" / "),
    );
    admin(&fencer, &["--deregister", "warden"])?;

    // 5. Failure paths: each fails, and fences nothing.
    let target = other.clone();
    let refused_before = status["status"]["operator"]["refused"]["auth"].as_u64().unwrap_or(0);
    let base = |ip: &str| format!("ip={ip}\nipport={OPERATOR_PORT}\ncluster_file={}\n", cluster_file.display());
    let unreachable_ip = std::net::Ipv4Addr::from(u32::from(rig.layout().plan.controller) + 1).to_string();
    let mut unreachable = device(&unreachable_ip, &cluster_file, std::slice::from_ref(&map));
    unreachable.retain(|o| !o.starts_with("power_timeout"));
    unreachable.push("power_timeout=3".to_owned());
    let wrong_key = dir.join("wrong.key");
    write_key(&wrong_key)?;
    let paths = [
        FailurePath {
            check: "an unreachable controller: the fence fails within the timeout, nothing fenced",
            device: unreachable,
            target: pcmk(&target),
            agent: format!("action=off\nplug={target}\n{}login_timeout=1\n", base(&unreachable_ip)),
            says: "no answer",
        },
        FailurePath {
            check: "a wrong key: refused and counted by the controller, a clear error, nothing fenced",
            device: device(&ip, &cluster_file, &[map.clone(), format!("key_file={}", wrong_key.display())]),
            target: pcmk(&target),
            agent: format!("action=off\nplug={target}\n{}key_file={}\n", base(&ip), wrong_key.display()),
            says: "refused the request's authentication",
        },
        FailurePath {
            check: "an unknown plug: a clear error, nothing fenced",
            device: device(&ip, &cluster_file, &[format!("pcmk_host_map={}:gamma", pcmk("gamma"))]),
            target: pcmk("gamma"),
            agent: format!("action=off\nplug=gamma\n{}", base(&ip)),
            says: "unknown plug `gamma`",
        },
    ];
    for (i, path) in paths.iter().enumerate() {
        let (passed, mut detail) = path.run(rig, &fencer, &format!("warden-failing-{i}"), &target)?;
        let mut passed = passed;
        if path.says.contains("authentication") {
            let refused_after = rig.ask("status")?["status"]["operator"]["refused"]["auth"].as_u64().unwrap_or(0);
            passed &= refused_after > refused_before;
            detail.push_str(&format!("; operator.refused.auth {refused_before} -> {refused_after}"));
        }
        verdict.check(path.check, passed, detail);
    }

    // A relay that never confirms: the standby's contacts welded shut.
    let standby = rig.index(&victim).unwrap_or(0);
    rig.weld_relay(standby, true);
    verdict.expected_alarm = Some(WELDED_ALARM);
    let mut options = device(&ip, &cluster_file, &[map]);
    options.retain(|o| !o.starts_with("power_timeout"));
    options.push("power_timeout=3".to_owned());
    let reg = register(&fencer, "warden-welded", &options)?;
    let t2 = rig.timeline().now();
    let welded = admin(&fencer, &["--fence", &pcmk(&victim), "--timeout", "20"])?;
    let still_powered = rig.powered(standby);
    rig.weld_relay(standby, false);
    rig.wait(&format!("{victim} fenced once its relay opens"), t2, |h| {
        is_console(h, |k| matches!(k, ConsoleKind::Fenced(n) if *n == victim))
    })?;
    admin(&fencer, &["--deregister", "warden-welded"])?;
    verdict.check(
        "a relay that never confirms: the fence fails while the sense reads power",
        reg.code == 0 && welded.code != 0 && still_powered,
        format!(
            "stonith_admin exit {} after {} ms with {victim}'s contacts welded (power {}); mended, the controller confirmed the fence",
            welded.code,
            welded.took.as_millis(),
            if still_powered { "still on" } else { "off" }
        ),
    );
    drop(fencer);
    Ok(())
}

/// A fence that must fail and fence nothing: through the fencer with a
/// device of its own, and the agent run directly for its error.
struct FailurePath {
    check: &'static str,
    device: Vec<String>,
    target: String,
    /// The agent's stdin when run directly.
    agent: String,
    /// What the agent's error must say.
    says: &'static str,
}

impl FailurePath {
    /// Runs it; whether it held, and what was seen. `server` is the
    /// server the fence is aimed at, which nothing may touch.
    fn run(&self, rig: &mut Rig, fencer: &Fencer, id: &str, server: &str) -> Result<(bool, String), RigError> {
        let reg = register(fencer, id, &self.device)?;
        if reg.code != 0 {
            return Err(RigError::Broken(format!("registering {id}: exit {} {}", reg.code, reg.text)));
        }
        let t = rig.timeline().now();
        let out = admin(fencer, &["--fence", &self.target, "--timeout", "20"])?;
        rig.wait_records(super::scenario::WINDOW_RECORDS / 4)?;
        admin(fencer, &["--deregister", id])?;
        let moved = touched(rig, server, t);
        let direct = fencer.agent(&self.agent)?;
        let said = String::from_utf8_lossy(&direct.stderr).into_owned();
        let passed = out.code != 0 && moved.is_empty() && direct.status.code() == Some(1) && said.contains(self.says);
        let detail = format!(
            "stonith_admin --fence {}: exit {} after {} ms; fence_warden: exit {:?}, {}; {server}: {}",
            self.target,
            out.code,
            out.took.as_millis(),
            direct.status.code(),
            short(&said),
            if moved.is_empty() { "untouched".to_owned() } else { moved.join(", ") }
        );
        Ok((passed, detail))
    }
}

/// Writes a random 32-byte key, mode 0600.
fn write_key(path: &Path) -> Result<(), RigError> {
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(RigError::io("reading /dev/urandom for a wrong key"))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(&key))
        .map_err(RigError::io(format!("writing {}", path.display())))
}

/// One fence of the bench, timed.
#[derive(Debug, Clone, Copy, Default)]
pub struct FenceTiming {
    /// `stonith_admin --fence` to its success.
    pub total: Duration,
    /// `fence_warden`'s own: its request sent to the answer that showed the
    /// node fenced and off (from its `verbose` line in the fencer's log).
    pub agent: Option<Duration>,
    /// The controller's: the request accepted to the fence confirmed by the
    /// sense (the rig's clock on its console lines).
    pub controller: Option<Duration>,
}

impl FenceTiming {
    /// The fencer's own share: the whole less the agent's.
    #[must_use]
    pub fn fencer(&self) -> Option<Duration> {
        self.agent.map(|a| self.total.saturating_sub(a))
    }
}

/// What `warden-rig bench fence` measured.
#[derive(Debug, Clone)]
pub struct FenceBench {
    /// Each fence.
    pub runs: Vec<FenceTiming>,
    /// The safety checks over the whole bench.
    pub verdict: Verdict,
}

/// The newest `confirmed ... after N ms` line of `node` in the fencer's
/// log after `skip` such lines.
fn agent_confirms(log: &str, node: &str) -> Vec<Duration> {
    let needle = format!("fence_warden: {node} off confirmed by the controller's sense after ");
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find(&needle)? + needle.len()..];
            let ms: u64 = rest.split(' ').next()?.parse().ok()?;
            Some(Duration::from_millis(ms))
        })
        .collect()
}

/// `warden-rig bench fence --runs N`: Pacemaker's `stonith_admin --fence`
/// of the standby through `fence_warden`, N times on one rig (each fenced
/// server unfenced again with `stonith_admin --unfence`), each split into
/// the fencer's own time and the agent's and the controller's.
///
/// # Errors
///
/// [`RigError`] when the rig or the fencer cannot be set up, or a fence fails.
pub fn bench(
    runs: usize,
    options: super::options::Options,
    mut progress: impl FnMut(usize, &FenceTiming),
) -> Result<FenceBench, RigError> {
    let mut rig = Rig::up(options)?;
    let Setup { fencer, dir, ip, cluster_file, nodes, map } = Setup::start(&rig)?;
    let options = device(&ip, &cluster_file, &[map, "verbose=1".to_owned()]);
    let reg = register(&fencer, "warden", &options)?;
    if reg.code != 0 {
        return Err(RigError::Broken(format!("registering the device: exit {} {}", reg.code, reg.text)));
    }
    let log = dir.join("fenced.log");
    let mut measured = Vec::with_capacity(runs);
    for run in 0..runs {
        let holder =
            rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
        let victim = nodes.iter().enumerate().find(|(i, _)| *i != holder).map(|(_, n)| n.clone()).unwrap_or_default();
        rig.wait_records(super::scenario::WINDOW_RECORDS / 2)?;
        let before = agent_confirms(&std::fs::read_to_string(&log).unwrap_or_default(), &victim).len();
        let t0 = rig.timeline().now();
        let fence = admin(&fencer, &["--fence", &pcmk(&victim), "--timeout", "30"])?;
        if fence.code != 0 {
            return Err(RigError::Broken(format!(
                "run {}: stonith_admin --fence {}: exit {} {}",
                run + 1,
                pcmk(&victim),
                fence.code,
                fence.text
            )));
        }
        let accepted_line = format!("operator (udp): fence {victim}: accepted");
        let accepted = rig.wait(
            "the controller accepting the fence",
            t0,
            |h| matches!(h, Happening::Controller(c) if c.text.contains(&accepted_line)),
        )?;
        let fenced = rig.wait(&format!("{victim} fenced"), t0, |h| {
            is_console(h, |k| matches!(k, ConsoleKind::Fenced(n) if *n == victim))
        })?;
        // The fencer writes the agent's lines to its log when the agent ends.
        let since = Instant::now();
        let agent = loop {
            let all = agent_confirms(&std::fs::read_to_string(&log).unwrap_or_default(), &victim);
            if all.len() > before {
                break all.last().copied();
            }
            if since.elapsed() > Duration::from_secs(10) {
                break None;
            }
            rig.wait_records(1)?;
        };
        let timing = FenceTiming { total: fence.took, agent, controller: Some(fenced.at.saturating_sub(accepted.at)) };
        let t1 = rig.timeline().now();
        let unfence = admin(&fencer, &["--unfence", &pcmk(&victim), "--timeout", "30"])?;
        if unfence.code != 0 {
            return Err(RigError::Broken(format!(
                "run {}: stonith_admin --unfence: exit {} {}",
                run + 1,
                unfence.code,
                unfence.text
            )));
        }
        rig.wait(&format!("{victim} up again"), t1, |h| {
            is_console(h, |k| matches!(k, ConsoleKind::NodeUp(n) if *n == victim))
        })?;
        progress(run + 1, &timing);
        measured.push(timing);
    }
    drop(fencer);
    let record = rig.finish();
    let mut verdict = Verdict::new("bench fence");
    verdict.common_checks(&record);
    Ok(FenceBench { runs: measured, verdict })
}

impl FenceBench {
    fn rows(&self) -> Vec<(&'static str, Option<crate::watch::stats::Summary>)> {
        let pick = |f: fn(&FenceTiming) -> Option<Duration>| {
            crate::watch::stats::Summary::of(&self.runs.iter().filter_map(f).collect::<Vec<_>>())
        };
        vec![
            ("stonith_admin --fence", pick(|t| Some(t.total))),
            ("  fencer's own share", pick(FenceTiming::fencer)),
            ("  fence_warden", pick(|t| t.agent)),
            ("    controller", pick(|t| t.controller)),
        ]
    }

    /// The table.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = format!(
            "Pacemaker fencing the standby through fence_warden, {} runs; ms\n\
             (fence_warden: request sent to the answer showing it fenced and off; controller: request\n\
             accepted to the power sensed off; the fencer's own share: the whole less fence_warden's)\n",
            self.runs.len()
        );
        out.push_str(&crate::watch::stats::table(&self.rows()));
        out.push_str(&self.verdict.render());
        out
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let rows: serde_json::Map<String, serde_json::Value> = self
            .rows()
            .into_iter()
            .map(|(name, s)| {
                (name.trim().replace([' ', '-', '\''], "_"), s.map_or(serde_json::Value::Null, |s| s.to_json()))
            })
            .collect();
        serde_json::json!({"bench": "fence", "runs": self.runs.len(), "summary": rows, "verdict": self.verdict.to_json()})
    }
}
