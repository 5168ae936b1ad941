//! Boot (DESIGN rule 4) and the main loop: the core's controller driven by
//! the board's devices. See the crate documentation for the order of boot
//! and what each output becomes.

use core::mem::MaybeUninit;

use defmt::{error, info, warn};
use warden_bsp::progress_of;
use warden_bsp::relay::RelayModule;
use warden_bsp::{Channel, Clock, FenceStore, IoLink, Link, PowerError, PowerSwitch, Watchdog};
use warden_core::controller::{Boot, Controller, Event, FenceRecord, Output, Persisted, Severity};
use warden_core::wire::{encode, Auth, BoardCounters, Decoder, FrameError, MAX_FRAME};
use warden_core::{Duration, GroupId, Instant, NodeId, MAX_NODES};

use super::clock::{self, Delay, SysTickClock};
use super::memory;
use super::uart::{self, Uart};
use super::watchdog::{self, CmsdkWatchdog};
use crate::blob::{self, BlobError, BoardConfig};
use crate::console::{Command, LineBuffer};
use crate::retained::{self, Retained};
use crate::{CONFIG_ADDRESS, LINK_UARTS};

/// The watchdog's timeout until the configuration is read.
const BOOT_WATCHDOG: Duration = Duration::from_millis(5000);
/// How often every relay's sense is read.
const SENSE_INTERVAL: Duration = Duration::from_millis(250);
/// How long the relay module may take to answer a report query.
const ANSWER_TIMEOUT: Duration = Duration::from_millis(500);
/// Reads per link per pass of the loop, so one chatty link cannot starve the others.
const READS_PER_PASS: usize = 8;
/// The longest watchdog timeout used (the hardware can do 343 s).
const MAX_WATCHDOG: Duration = Duration::from_secs(300);

type Relays = RelayModule<Uart, SysTickClock, Delay>;

/// The watchdog's timeout for `keepalive`: the controller asks for a feed
/// once per keepalive; leave room for four. Nothing in the main loop waits
/// on the relay module (its queries are answered across passes).
fn watchdog_timeout(keepalive: Duration) -> Duration {
    let ms = keepalive.as_millis().saturating_mul(4).max(1000);
    Duration::from_millis(ms.min(MAX_WATCHDOG.as_millis()))
}

/// Logs `say` once a second, feeding nothing, until the watchdog resets the board.
fn halt(say: impl Fn()) -> ! {
    let mut next = 0;
    loop {
        let now = clock::now_ms();
        if now >= next {
            say();
            next = now.saturating_add(1000);
        }
    }
}

const fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

const fn frame_error(e: FrameError) -> &'static str {
    match e {
        FrameError::TooLong => "too-long",
        FrameError::Cobs => "cobs",
        FrameError::Empty => "empty",
        FrameError::Truncated => "truncated",
        FrameError::BadTag => "bad-tag",
        FrameError::BadVersion(_) => "bad-version",
        FrameError::Decode => "decode",
        FrameError::TrailingBytes => "trailing-bytes",
        _ => "other",
    }
}

const fn power_error(e: PowerError) -> &'static str {
    match e {
        PowerError::NoSuchChannel(_) => "no such channel",
        PowerError::NoAnswer(_) => "no answer from the relay module",
        PowerError::BadAnswer(_) => "bad answer from the relay module",
        _ => "relay module UART failed",
    }
}

/// An event in the core's words, at its severity's level.
fn log_event(event: Event) {
    match event.severity() {
        Severity::Info => info!("{}", event),
        Severity::Warn => warn!("{}", event),
        Severity::Alarm => error!("{}", event),
    }
}

/// Counters shown by the console's `status`. They saturate.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    /// Frames not sent, per link.
    send_failed: [u32; LINK_UARTS],
    /// Console lines refused.
    console_refused: u32,
    /// Fence records that could not be stored.
    persist_failed: u32,
    /// Sense readings that failed.
    sense_failed: u32,
    /// The longest pass of the main loop since reset, in ms: what a node's
    /// link or the watchdog may have waited for the loop.
    longest_pass_ms: u64,
}

/// What the main loop runs with, as [`configure`] leaves it.
struct Board {
    devices: Devices,
    /// How frames are authenticated.
    auth: Auth,
}

/// Everything the outputs act on.
struct Devices {
    nodes: u8,
    links: [IoLink<Uart>; LINK_UARTS],
    relays: Relays,
    channels: [Option<Channel>; MAX_NODES],
    retained: Retained,
    watchdog: CmsdkWatchdog,
    /// Last sense reading per node, for the "changed" lines.
    sensed: [Option<bool>; MAX_NODES],
    /// Whether the last sense of a node failed (reported once per change).
    sense_failing: [bool; MAX_NODES],
    /// Relay switches the module refused, to try again at the next sense.
    pending_power: [Option<bool>; MAX_NODES],
    next_sense: Instant,
    /// The node of the sense query under way.
    asking: Option<usize>,
    /// The next node of the sense round under way.
    round: Option<usize>,
    counters: Counters,
}

impl Devices {
    fn node_index(&self, node: NodeId) -> Option<usize> {
        Some(node.index()).filter(|i| *i < usize::from(self.nodes))
    }

    /// Carries out the controller's outputs, in order.
    fn drain(&mut self, now: Instant, controller: &mut Controller, auth: &Auth) {
        while let Some(output) = controller.poll_output() {
            match output {
                Output::Persist(record) => {
                    let answer = self.persist(record);
                    // The relay move the record guards comes only after this.
                    controller.handle_persisted(now, record, answer);
                }
                Output::Power { node, on } => self.power(now, node, on),
                Output::Send { node, message } => {
                    let Some(i) = self.node_index(node) else { continue };
                    let mut frame = [0u8; MAX_FRAME];
                    let Ok(len) = encode(&message, auth, &mut frame) else {
                        error!("frame to node {=u8} could not be encoded", node.0);
                        continue;
                    };
                    let Some(link) = self.links.get_mut(i) else { continue };
                    let result = link.write_frame(frame.get(..len).unwrap_or_default());
                    controller.handle_link(now, i, progress_of(&result));
                    if result.is_err() {
                        if let Some(c) = self.counters.send_failed.get_mut(i) {
                            *c = c.saturating_add(1);
                        }
                    }
                }
                Output::Alarm(event) => log_event(event),
                Output::FeedWatchdog => self.feed(),
            }
        }
    }

    fn persist(&mut self, record: FenceRecord) -> Persisted {
        let mut store = self.retained.fences();
        match store.store(record) {
            Ok(()) => {
                let generation = store.generation().unwrap_or(0);
                memory::write_retained(&self.retained);
                info!(
                    "node {=u8}: fence record written ({=str}), generation {=u64}",
                    record.node.0,
                    if record.fenced { "fenced" } else { "not fenced" },
                    generation
                );
                Persisted::Durable
            }
            Err(_) => {
                self.counters.persist_failed = self.counters.persist_failed.saturating_add(1);
                error!("node {=u8}: fence record NOT written", record.node.0);
                Persisted::Failed
            }
        }
    }

    fn power(&mut self, now: Instant, node: NodeId, on: bool) {
        let Some(i) = self.node_index(node) else { return };
        let Some(channel) = self.channels.get(i).copied().flatten() else { return };
        let pending = match self.relays.set(channel, on) {
            Ok(()) => {
                info!("node {=u8}: relay commanded {=str}", node.0, on_off(on));
                None
            }
            Err(e) => {
                error!("node {=u8}: relay refused {=str}: {=str} (will retry)", node.0, on_off(on), power_error(e));
                Some(on)
            }
        };
        if let Some(slot) = self.pending_power.get_mut(i) {
            *slot = pending;
        }
        // Confirm through the sense without waiting for the next round.
        self.next_sense = now;
    }

    fn feed(&mut self) {
        if watchdog::take_first_expiry() {
            warn!("watchdog: first stage expired before this feed");
        }
        // The core asks only while the loop and every link make progress.
        if self.watchdog.feed().is_err() {
            error!("watchdog feed refused");
        }
    }

    /// One step of the sense round, never waiting on the relay module: the
    /// changes the module reported unasked, the answer to the query under
    /// way if it has come (or its timeout), then the next query of the
    /// round, which starts every `SENSE_INTERVAL` (at once after a switch). A relay switch the module refused is tried
    /// again just before its node's query.
    fn sense_step(&mut self, now: Instant, controller: &mut Controller, auth: &Auth) {
        let mut changed = [None; MAX_NODES];
        let channels = &self.channels;
        // A port error shows in the round's next answer.
        let _ = self.relays.take_changes(|channel, powered| {
            if let Some(slot) = channels.iter().position(|c| *c == Some(channel)).and_then(|i| changed.get_mut(i)) {
                *slot = Some(powered);
            }
        });
        for (i, powered) in changed.iter().enumerate() {
            if let Some(powered) = *powered {
                self.reading(i, Ok(Some(powered)), controller, auth);
            }
        }
        if let Some(i) = self.asking {
            let reading = match self.relays.poll_answer() {
                Ok(None) => return,
                Ok(Some((_, powered))) => Ok(Some(powered)),
                Err(e) => Err(e),
            };
            self.asking = None;
            self.reading(i, reading, controller, auth);
        }
        let mut next = match self.round {
            Some(next) => next,
            None if now >= self.next_sense => 0,
            None => return,
        };
        loop {
            if next >= usize::from(self.nodes) {
                self.round = None;
                self.next_sense = now.saturating_add(SENSE_INTERVAL);
                return;
            }
            let i = next;
            next += 1;
            self.round = Some(next);
            let Some(channel) = self.channels.get(i).copied().flatten() else { continue };
            if let Some(on) = self.pending_power.get(i).copied().flatten() {
                if self.relays.set(channel, on).is_ok() {
                    info!("node {=usize}: relay commanded {=str} (retry)", i, on_off(on));
                    if let Some(slot) = self.pending_power.get_mut(i) {
                        *slot = None;
                    }
                }
            }
            match self.relays.ask(channel) {
                Ok(()) => {
                    self.asking = Some(i);
                    return;
                }
                Err(e) => self.reading(i, Err(e), controller, auth),
            }
        }
    }

    /// A sense reading of node `i` (or why there is none): said on the log
    /// when it changes, and given to the controller.
    fn reading(
        &mut self,
        i: usize,
        reading: Result<Option<bool>, PowerError>,
        controller: &mut Controller,
        auth: &Auth,
    ) {
        let node = NodeId(u8::try_from(i).unwrap_or(u8::MAX));
        if reading.is_err() {
            self.counters.sense_failed = self.counters.sense_failed.saturating_add(1);
        }
        if let Some(failing) = self.sense_failing.get_mut(i) {
            if *failing != reading.is_err() {
                *failing = reading.is_err();
                match reading {
                    Err(e) => warn!("node {=u8}: cannot read power: {=str}", node.0, power_error(e)),
                    Ok(_) => info!("node {=u8}: power readable again", node.0),
                }
            }
        }
        if let Ok(Some(powered)) = reading {
            if let Some(slot) = self.sensed.get_mut(i) {
                if *slot != Some(powered) {
                    info!("node {=u8}: power sensed {=str}", node.0, on_off(powered));
                    *slot = Some(powered);
                }
            }
            let now = SysTickClock.now();
            controller.handle_sense(now, node, powered);
            self.drain(now, controller, auth);
        }
    }

    fn status(&self, controller: &Controller, decoders: &[Decoder; LINK_UARTS]) {
        for i in 0..self.nodes {
            let Some(view) = controller.node(NodeId(i)) else { continue };
            let power = view.powered.map_or("unknown", on_off);
            info!(
                "status node {=u8}: {=str}{=str}, power {=str}, want {=u32:#b}, holds {=u32:#b}",
                i,
                view.life.name(),
                if view.standby { " (standby)" } else { "" },
                power,
                view.want.0,
                view.holds.0
            );
        }
        for g in 0..u8::try_from(controller.config().groups.len()).unwrap_or(u8::MAX) {
            let Some(view) = controller.group(GroupId(g)) else { continue };
            match view.placed_on {
                Some(n) => info!("status group {=u8}: placed on node {=u8}", g, n.0),
                None => info!("status group {=u8}: not placed", g),
            }
        }
        for (i, decoder) in decoders.iter().enumerate().take(usize::from(self.nodes)) {
            let stats = decoder.stats();
            let failed = self.counters.send_failed.get(i).copied().unwrap_or(0);
            info!(
                "status link {=usize}: frames ok {=u32}, refused {=u32}, not sent {=u32}, bytes dropped {=u32}",
                i,
                stats.ok,
                stats.rejected(),
                failed,
                uart::rx_dropped(i + 1)
            );
        }
        let s = controller.stats();
        let r = self.relays.stats();
        info!("status memory: stack used {=usize} bytes (high-water since reset)", memory::stack_used());
        info!("status loop: longest pass {=u64} ms since reset", self.counters.longest_pass_ms);
        // The history's entries go to agents (`Op::History`, `wardenctl
        // history`); the counters too (`Op::Counters`). `status counters`
        // stays the last line (the rig waits for it).
        let history = controller.history();
        info!(
            "status fences: {=u32} since start, {=u8} in the history; confirmed {=u32}, not confirmed in time {=u32}, unfences {=u32}; sense failed {=u32}, watchdog feeds withheld {=u32}",
            history.total(),
            history.held(),
            s.fences_confirmed,
            s.fences_unconfirmed,
            s.unfences,
            self.counters.sense_failed,
            s.feeds_withheld
        );
        info!(
            "status counters: session rejects {=u32}, wrong node {=u32}, alarms dropped {=u32}, relay no answer {=u32}, relay bad frames {=u32}, console refused {=u32}, fence store failures {=u32}, spurious irqs {=u32}",
            s.session_rejects,
            s.wrong_node,
            s.alarms_dropped,
            r.no_answer,
            r.bad_frames,
            self.counters.console_refused,
            self.counters.persist_failed,
            uart::spurious()
        );
    }
}

/// Boots and runs the controller; never returns.
///
/// The work is split so that the stack holds only one phase at a time:
/// [`configure`] (the blob, the fence records, the relay sense, the
/// controller rebooted in place) returns before [`run`] starts, and the
/// controller itself is never on the stack (see [`idle_controller`]).
pub fn start() -> ! {
    let Some(mut core) = cortex_m::Peripherals::take() else {
        // Only a second call could get here.
        loop {
            cortex_m::asm::nop();
        }
    };
    // The console first, so every line from here on is seen.
    let console = Uart::open(0);
    clock::start(&mut core.SYST);
    // The watchdog before anything that could hang or halt.
    let mut watchdog = CmsdkWatchdog::new();
    let armed = watchdog.start(BOOT_WATCHDOG);
    // SAFETY: the interrupt handlers (UART receive, SysTick) only touch
    // their own statics, behind critical sections.
    unsafe { cortex_m::interrupt::enable() };

    let mut retained = memory::read_retained();
    let boot = retained.next_boot();
    memory::write_retained(&retained);
    info!("boot {=u64}: warden-controller-mcu {=str} on MPS2 AN386", boot, env!("CARGO_PKG_VERSION"));
    if armed.is_err() {
        error!("watchdog refused its boot timeout");
    }
    let Some(controller) = idle_controller() else { halt(|| error!("the controller's static was taken twice")) };
    // Used where it is: a destructuring `let` would copy it.
    let mut board = configure(controller, boot, watchdog);
    run(controller, &mut board.devices, &board.auth, console)
}

/// The controller in its static, idle (it runs nothing until
/// [`Controller::reboot`] gives it the cluster): `None` on a second call.
///
/// The static is uninitialised memory, so it is in `.bss`. The idle value
/// is copied into it from a constant: built at run time, it would be
/// assembled on the stack first (7.5 KB), as LLVM does not build it in
/// place. The constant costs its size in flash once, as a `.data` static
/// would, and no stack.
fn idle_controller() -> Option<&'static mut Controller> {
    let slot = cortex_m::singleton!(CONTROLLER: MaybeUninit<Controller> = MaybeUninit::uninit())?;
    Some(slot.write(const { Controller::idle() }))
}

/// Reads the blob, the fence records and every relay's sense, then reboots
/// `controller` in place with the blob's cluster (DESIGN rule 4: nothing is
/// switched by starting) and arms the watchdog for its keepalive. Halts,
/// feeding nothing, on anything it cannot run with.
///
/// Never inlined: the decoded blob and the deserialiser's frames are gone
/// from the stack before the main loop starts.
#[inline(never)]
fn configure(controller: &mut Controller, boot: u64, mut watchdog: CmsdkWatchdog) -> Board {
    let mut config = BoardConfig::EMPTY;
    if let Err(e) = blob::decode_into(memory::config_region(), LINK_UARTS, &mut config) {
        halt(|| refuse_blob(e))
    }
    let Ok(auth) = config.frame_auth() else { halt(|| refuse_blob(BlobError::Decode)) };
    let nodes = config.cluster.nodes;
    info!(
        "configuration blob read: {=u8} nodes, {=usize} groups, keepalive {=u64} ms, deadtime {=u64} ms, auth {=str}",
        nodes,
        config.cluster.groups.len(),
        config.cluster.timing.keepalive.as_millis(),
        config.cluster.timing.deadtime.as_millis(),
        if matches!(auth, Auth::Crc) { "crc" } else { "hmac" }
    );

    // Rule 4: the fence records and every relay's sense before the controller.
    let mut retained = memory::read_retained();
    let (Ok(fenced), Ok(generation)) = (retained.fences().load(), retained.fences().generation()) else {
        halt(|| error!("fence records in .retained are corrupt: refusing to start (a fenced node must stay off)"))
    };
    info!("fence store .retained: generation {=u64}", generation);
    let Some(relay_uart) = Uart::open(4) else { halt(|| error!("UART4 (relay module) missing")) };
    let mut relays = RelayModule::new(relay_uart, SysTickClock, Delay, config.relay_channels(), ANSWER_TIMEOUT);
    let mut channels = [None; MAX_NODES];
    let mut powered = [None; MAX_NODES];
    let mut sense_failing = [false; MAX_NODES];
    for i in 0..usize::from(nodes) {
        let channel = config.relay(i);
        if let Some(slot) = channels.get_mut(i) {
            *slot = channel;
        }
        let Some(channel) = channel else { continue };
        let reading = relays.sense(channel);
        let is_fenced = fenced.get(i).copied().unwrap_or(false);
        match reading {
            Ok(p) => {
                if let Some(slot) = powered.get_mut(i) {
                    *slot = p;
                }
                info!(
                    "node {=usize}: relay channel {=u8}, fence record {=str}, power sensed {=str}",
                    i,
                    channel.0,
                    if is_fenced { "fenced" } else { "not fenced" },
                    p.map_or("unknown", on_off)
                );
            }
            Err(e) => {
                if let Some(slot) = sense_failing.get_mut(i) {
                    *slot = true;
                }
                warn!(
                    "node {=usize}: relay channel {=u8}, fence record {=str}, power unknown at boot: {=str}",
                    i,
                    channel.0,
                    if is_fenced { "fenced" } else { "not fenced" },
                    power_error(e)
                );
            }
        }
    }

    // A module with the watch extension then reports every change unasked
    // (a lost supply at once); one without ignores it and is read by rounds.
    for channel in channels.iter().take(usize::from(nodes)).flatten() {
        if relays.watch(*channel).is_err() {
            warn!("relay channel {=u8}: the watch could not be sent", channel.0);
        }
    }
    info!("starting the controller (stack used so far {=usize} bytes)", memory::stack_used());
    let now = SysTickClock.now();
    let boot_state = Boot { now, seed: retained::seed(boot), fenced, powered };
    // The cluster moves into the controller; nothing else of the blob is kept.
    if controller.reboot(config.cluster, boot_state).is_err() {
        halt(|| error!("the core refused the cluster configuration"))
    }
    let timeout = watchdog_timeout(controller.config().timing.keepalive);
    let Ok(applied) = watchdog.start(timeout) else {
        halt(|| error!("watchdog refused a {=u64} ms timeout", timeout.as_millis()))
    };
    let [Some(l1), Some(l2), Some(l3)] = [Uart::open(1), Uart::open(2), Uart::open(3)] else {
        halt(|| error!("a link UART is missing"))
    };
    info!(
        "controller started: {=u8} nodes, watchdog {=u64} ms, stack used {=usize} bytes",
        nodes,
        applied.as_millis(),
        memory::stack_used()
    );
    let devices = Devices {
        nodes,
        links: [IoLink::new(l1), IoLink::new(l2), IoLink::new(l3)],
        relays,
        channels,
        retained,
        watchdog,
        sensed: powered,
        sense_failing,
        pending_power: [None; MAX_NODES],
        next_sense: now.saturating_add(SENSE_INTERVAL),
        asking: None,
        round: None,
        counters: Counters::default(),
    };
    Board { devices, auth }
}

/// The main loop: first what the controller's boot asked for, then links,
/// console, the controller's timeout and the relay sense, in turn; then
/// asleep until an interrupt.
#[inline(never)]
fn run(controller: &mut Controller, devices: &mut Devices, auth: &Auth, mut console: Option<Uart>) -> ! {
    devices.drain(SysTickClock.now(), controller, auth);
    let nodes = devices.nodes;
    let mut decoders = [Decoder::new(), Decoder::new(), Decoder::new()];
    let mut line = LineBuffer::new();
    loop {
        let now = SysTickClock.now();
        // What the drivers counted, for an agent that asks (`Op::Counters`).
        let r = devices.relays.stats();
        let refused = decoders.iter().fold(0u32, |sum, d| sum.saturating_add(d.stats().rejected()));
        controller.note_board(BoardCounters {
            relay_errors: r.no_answer.saturating_add(r.bad_frames),
            sense_errors: devices.counters.sense_failed,
            frames_refused: refused,
        });
        for (i, decoder) in decoders.iter_mut().enumerate().take(usize::from(nodes)) {
            let node = NodeId(u8::try_from(i).unwrap_or(u8::MAX));
            for _ in 0..READS_PER_PASS {
                let mut buf = [0u8; 64];
                let Some(link) = devices.links.get_mut(i) else { break };
                let n = match link.read_available(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.feed(buf.get(..n).unwrap_or_default(), auth, |frame| match frame {
                    Ok(message) => {
                        let before = controller.stats();
                        controller.handle_message(now, node, message);
                        let after = controller.stats();
                        if after.session_rejects != before.session_rejects || after.wrong_node != before.wrong_node {
                            warn!("node {=u8}: message refused by the session rules", node.0);
                        }
                        devices.drain(now, controller, auth);
                    }
                    Err(e) => warn!("node {=u8}: frame refused: {=str}", node.0, frame_error(e)),
                });
            }
        }
        if let Some(console) = console.as_mut() {
            let mut buf = [0u8; 16];
            let n = console.take(&mut buf);
            for &byte in buf.get(..n).unwrap_or_default() {
                line.push(byte, |parsed| match parsed {
                    Ok(None) => {}
                    Ok(Some(Command::Status)) => devices.status(controller, &decoders),
                    Ok(Some(Command::Op(op))) => {
                        match controller.handle_request(now, op) {
                            Ok(()) => info!("console: {=str} accepted", op.verb()),
                            Err(r) => warn!("console: {=str} refused: {=str}", op.verb(), r.describe()),
                        }
                        devices.drain(now, controller, auth);
                    }
                    Ok(Some(Command::Wedge(node))) => match devices.node_index(node) {
                        Some(i) => {
                            if let Some(link) = devices.links.get_mut(i) {
                                link.inner().wedge();
                            }
                            warn!("console: wedge: node {=u8}'s link transmitter disabled (fault injection)", node.0);
                        }
                        None => {
                            devices.counters.console_refused = devices.counters.console_refused.saturating_add(1);
                            warn!("console: wedge refused: no such node {=u8}", node.0);
                        }
                    },
                    Err(e) => {
                        devices.counters.console_refused = devices.counters.console_refused.saturating_add(1);
                        warn!("console: line refused: {=str}", e.name());
                    }
                });
            }
        }
        if controller.poll_timeout().is_some_and(|t| t <= now) {
            controller.handle_timeout(now);
            devices.drain(now, controller, auth);
        }
        devices.sense_step(now, controller, auth);
        let took = SysTickClock.now().saturating_since(now).as_millis();
        let longest = &mut devices.counters.longest_pass_ms;
        *longest = (*longest).max(took);
        // Sleep until the next interrupt: a received byte (links, relay
        // module) or the millisecond tick. A byte whose interrupt came
        // during the pass, after its queue was read, waits for that tick:
        // at most 1 ms. (The board's core idles instead of spinning; under
        // QEMU that leaves the host's CPU to everything else.)
        cortex_m::asm::wfi();
    }
}

fn refuse_blob(e: BlobError) {
    error!(
        "configuration blob at {=u32:#x} refused: {=str}; halted, feeding nothing: the watchdog resets the board",
        CONFIG_ADDRESS,
        e.name()
    );
}
