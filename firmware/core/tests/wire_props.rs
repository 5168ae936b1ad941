//! Properties of frames and sessions: chunking, corruption, oversize input,
//! garbage, replays and rekeys.

use proptest::prelude::*;
use warden_core::wire::{
    decode, encode, Auth, Beat, Body, Decoder, FrameError, Header, Initiator, Key, Message, Op, Refusal, Reply,
    Request, Responder, Role, SessionError, Status, Summary, MAX_FRAME,
};
use warden_core::{GroupId, GroupSet, NodeId};

fn hmac() -> Auth {
    Auth::Hmac(Key::new(b"property test key").unwrap())
}

fn auths() -> [Auth; 2] {
    [hmac(), Auth::Crc]
}

fn any_auth() -> impl Strategy<Value = Auth> {
    prop_oneof![Just(hmac()), Just(Auth::Crc)]
}

fn any_op() -> impl Strategy<Value = Op> {
    let node = any::<u8>().prop_map(NodeId);
    prop_oneof![
        (any::<u8>(), any::<u8>()).prop_map(|(g, n)| Op::Migrate { group: GroupId(g), node: NodeId(n) }),
        node.clone().prop_map(|node| Op::Standby { node }),
        node.clone().prop_map(|node| Op::Online { node }),
        node.clone().prop_map(|node| Op::Fence { node }),
        node.prop_map(|node| Op::Unfence { node }),
        Just(Op::Describe),
    ]
}

fn any_refusal() -> impl Strategy<Value = Refusal> {
    prop_oneof![
        Just(Refusal::UnknownNode),
        Just(Refusal::UnknownGroup),
        Just(Refusal::NotEligible),
        Just(Refusal::NodeUnavailable),
        Just(Refusal::NotFenced),
        Just(Refusal::AlreadyFenced),
        Just(Refusal::Unsafe),
    ]
}

fn any_set() -> impl Strategy<Value = GroupSet> {
    any::<u32>().prop_map(GroupSet)
}

fn any_body() -> impl Strategy<Value = Body> {
    let role = prop_oneof![Just(Role::Listening), Just(Role::Member), Just(Role::Standby)];
    prop_oneof![
        Just(Body::Hello),
        Just(Body::Probing),
        (any::<u32>(), any::<u32>(), any::<[u8; 8]>(), any::<[u8; 8]>(), any::<[u8; 16]>(), any_set()).prop_map(
            |(id, uptime_s, node_state, heard, placed, moving)| Body::Summary(Summary {
                id,
                uptime_s,
                nodes: 8,
                groups: 32,
                node_state,
                heard,
                placed,
                moving
            })
        ),
        (any::<u32>(), any_set(), role).prop_map(|(epoch, want, role)| Body::Beat(Beat { epoch, want, role })),
        (any::<u64>(), any_set(), any_set(), any_set(), any_set(), any_set(), any::<u16>()).prop_map(
            |(applied, holds, busy, healthy, failing, stuck, net_score)| Body::Status(Status {
                applied,
                holds,
                busy,
                healthy,
                failing,
                stuck,
                net_score
            })
        ),
        (any::<u32>(), any_op()).prop_map(|(id, op)| Body::Request(Request { id, op })),
        (any::<u32>(), proptest::option::of(any_refusal()))
            .prop_map(|(id, refusal)| Body::Reply(Reply { id, outcome: refusal.map_or(Ok(()), Err) })),
    ]
}

fn any_message() -> impl Strategy<Value = Message> {
    (any::<u8>(), any::<u64>(), any::<u64>(), any::<u64>(), any_body()).prop_map(|(node, nonce, echo, seq, body)| {
        Message { header: Header { node: NodeId(node), nonce, echo, seq }, body }
    })
}

fn frame(message: &Message, auth: &Auth) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME];
    let len = encode(message, auth, &mut out).unwrap();
    out[..len].to_vec()
}

/// Feeds `chunks` in order and returns every reported frame.
fn run<'a>(
    decoder: &mut Decoder,
    auth: &Auth,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<Message, FrameError>> {
    let mut got = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, auth, |r| got.push(r));
    }
    got
}

fn a_beat(seq: u64) -> Message {
    Message {
        header: Header { node: NodeId(1), nonce: 11, echo: 22, seq },
        body: Body::Beat(Beat { epoch: 1, want: GroupSet(1), role: Role::Member }),
    }
}

proptest! {
    #[test]
    fn every_message_round_trips_within_max_frame(message in any_message(), auth in any_auth()) {
        let bytes = frame(&message, &auth);
        prop_assert!(bytes.len() <= MAX_FRAME);
        prop_assert_eq!(bytes.last(), Some(&0));
        prop_assert!(!bytes[..bytes.len() - 1].contains(&0));
        prop_assert_eq!(decode(&bytes, &auth), Ok(message));
    }

    #[test]
    fn any_chunking_decodes_identically(
        messages in proptest::collection::vec(any_message(), 1..8),
        auth in any_auth(),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..20),
    ) {
        let stream: Vec<u8> = messages.iter().flat_map(|m| frame(m, &auth)).collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        let chunks = cuts.windows(2).map(|w| &stream[w[0]..w[1]]);

        let mut chunked = Decoder::new();
        let got = run(&mut chunked, &auth, chunks);
        let mut whole = Decoder::new();
        let expected = run(&mut whole, &auth, [stream.as_slice()]);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(got, messages.into_iter().map(Ok).collect::<Vec<_>>());
        prop_assert_eq!(chunked.stats(), whole.stats());
    }

    #[test]
    fn a_flipped_bit_anywhere_is_rejected_and_counted(
        message in any_message(),
        auth in any_auth(),
        bit in any::<proptest::sample::Index>(),
    ) {
        let mut bad = frame(&message, &auth);
        let bit = bit.index(bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        let good = a_beat(message.header.seq.wrapping_add(1));
        let mut stream = bad.clone();
        stream.extend(frame(&good, &auth));

        let mut decoder = Decoder::new();
        let got = run(&mut decoder, &auth, [stream.as_slice()]);
        let accepted: Vec<&Message> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
        let delimiter_hit = bit / 8 == bad.len() - 1;
        // The corrupted frame never yields a message; the next frame survives
        // unless the flip removed the delimiter between them.
        if delimiter_hit {
            prop_assert!(accepted.is_empty(), "{:?}", got);
        } else {
            prop_assert_eq!(accepted, vec![&good]);
        }
        let stats = decoder.stats();
        prop_assert!(stats.rejected() >= 1);
        prop_assert_eq!(stats.rejected() as usize + stats.ok as usize, got.len());
    }

    #[test]
    fn oversize_input_is_dropped_and_the_next_frame_decodes(
        junk in proptest::collection::vec(1u8..=255, MAX_FRAME..4 * MAX_FRAME),
        message in any_message(),
        auth in any_auth(),
    ) {
        let mut stream = junk;
        stream.push(0);
        stream.extend(frame(&message, &auth));
        let mut decoder = Decoder::new();
        let got = run(&mut decoder, &auth, stream.chunks(7));
        prop_assert_eq!(got, vec![Err(FrameError::TooLong), Ok(message)]);
        prop_assert_eq!(decoder.stats().too_long, 1);
        prop_assert_eq!(decoder.stats().ok, 1);
    }

    #[test]
    fn garbage_never_panics_and_every_delimiter_is_one_report(
        garbage in proptest::collection::vec(any::<u8>(), 0..1024),
        auth in any_auth(),
    ) {
        let mut decoder = Decoder::new();
        let got = run(&mut decoder, &auth, [garbage.as_slice()]);
        prop_assert_eq!(got.len(), garbage.iter().filter(|&&b| b == 0).count());
        let stats = decoder.stats();
        prop_assert_eq!(stats.ok as usize + stats.rejected() as usize, got.len());
        for message in got.into_iter().flatten() {
            // Whatever got through re-encodes to a frame of the same message.
            prop_assert_eq!(decode(&frame(&message, &auth), &auth), Ok(message));
        }
    }

    #[test]
    fn after_any_garbage_and_a_delimiter_frames_decode(
        garbage in proptest::collection::vec(any::<u8>(), 0..600),
        message in any_message(),
        auth in any_auth(),
    ) {
        let mut stream = garbage;
        stream.push(0);
        stream.extend(frame(&message, &auth));
        let mut decoder = Decoder::new();
        let got = run(&mut decoder, &auth, [stream.as_slice()]);
        prop_assert_eq!(got.last(), Some(&Ok(message)));
    }

    #[test]
    fn frames_under_one_auth_are_refused_under_another(message in any_message()) {
        let other = Auth::Hmac(Key::new(b"another cluster").unwrap());
        prop_assert_eq!(decode(&frame(&message, &hmac()), &other), Err(FrameError::BadTag));
        prop_assert_eq!(decode(&frame(&message, &hmac()), &Auth::Crc), Err(FrameError::BadTag));
        prop_assert!(decode(&frame(&message, &Auth::Crc), &hmac()).is_err());
    }
}

// ---- Sessions ----

const NODE: NodeId = NodeId(2);

fn status_body() -> Body {
    Body::Status(Status {
        applied: 0,
        holds: GroupSet::EMPTY,
        busy: GroupSet::EMPTY,
        healthy: GroupSet::EMPTY,
        failing: GroupSet::EMPTY,
        stuck: GroupSet::EMPTY,
        net_score: 0,
    })
}

fn beat_body() -> Body {
    Body::Beat(Beat { epoch: 1, want: GroupSet(0b11), role: Role::Member })
}

/// One link: frames go through the encoder and a decoder, then the session.
struct Link {
    auth: Auth,
    agent: Initiator,
    controller: Responder,
    to_controller: Decoder,
    to_agent: Decoder,
}

impl Link {
    fn new(agent_boot: u64, controller_boot: u64) -> Self {
        Self {
            auth: hmac(),
            agent: Initiator::new(agent_boot),
            controller: Responder::new(controller_boot),
            to_controller: Decoder::new(),
            to_agent: Decoder::new(),
        }
    }

    fn receive(decoder: &mut Decoder, auth: &Auth, bytes: &[u8]) -> Message {
        let got = run(decoder, auth, [bytes]);
        assert_eq!(got.len(), 1);
        got[0].unwrap()
    }

    /// Delivers agent frames to the controller; returns the session verdict.
    fn up(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let message = Self::receive(&mut self.to_controller, &self.auth, bytes);
        if message.body == Body::Hello {
            self.controller.accept_hello(&message.header);
            Ok(())
        } else {
            self.controller.accept(&message.header)
        }
    }

    fn down(&mut self, bytes: &[u8]) -> Result<(), SessionError> {
        let message = Self::receive(&mut self.to_agent, &self.auth, bytes);
        self.agent.accept(&message.header)
    }

    fn hello(&mut self) -> Vec<u8> {
        frame(&self.agent.hello(NODE), &self.auth)
    }

    fn status(&mut self) -> Vec<u8> {
        frame(&Message { header: self.agent.header(NODE), body: status_body() }, &self.auth)
    }

    fn beat(&mut self) -> Vec<u8> {
        frame(&Message { header: self.controller.header(NODE), body: beat_body() }, &self.auth)
    }

    /// A full handshake, recording every frame of it.
    fn handshake(&mut self, recording: &mut Vec<Vec<u8>>) {
        let hello = self.hello();
        self.up(&hello).unwrap();
        let beat = self.beat();
        self.down(&beat).unwrap();
        recording.extend([hello, beat]);
        assert!(self.agent.is_established() && self.controller.is_established());
    }
}

#[test]
fn a_replayed_frame_is_rejected_by_the_session() {
    let mut link = Link::new(1000, 2000);
    link.handshake(&mut Vec::new());
    let status = link.status();
    assert_eq!(link.up(&status), Ok(()));
    assert!(matches!(link.up(&status), Err(SessionError::Replay { .. })));
    let beat = link.beat();
    assert_eq!(link.down(&beat), Ok(()));
    assert!(matches!(link.down(&beat), Err(SessionError::Replay { .. })));
    // The frames themselves were fine: the decoders counted them as good.
    assert_eq!(link.to_controller.stats().ok, 3);
    assert_eq!(link.to_agent.stats().ok, 3);
}

#[test]
fn an_older_session_is_rejected_by_the_controller_after_a_rekey() {
    let mut link = Link::new(1000, 2000);
    let mut handshake = Vec::new();
    link.handshake(&mut handshake);
    let old_hello = handshake[0].clone();
    let mut old_statuses = Vec::new();
    for _ in 0..3 {
        let status = link.status();
        link.up(&status).unwrap();
        old_statuses.push(status);
    }

    // The agent starts a new session: the old statuses name an agent nonce
    // the controller has moved away from.
    link.agent.start_handshake();
    link.handshake(&mut Vec::new());
    for status in &old_statuses {
        assert!(matches!(link.up(status), Err(SessionError::WrongPeer { .. })));
    }
    // Replaying the old Hello too rekeys the controller to the old agent
    // nonce, but every old status echoes a controller nonce it has left.
    assert_eq!(link.up(&old_hello), Ok(()));
    for status in &old_statuses {
        assert!(matches!(link.up(status), Err(SessionError::WrongEcho { .. })));
    }
    // The live agent's beats now fail, so it shakes hands again and heals.
    let beat = link.beat();
    assert!(matches!(link.down(&beat), Err(SessionError::WrongEcho { .. })));
    link.agent.start_handshake();
    link.handshake(&mut Vec::new());
    let status = link.status();
    assert_eq!(link.up(&status), Ok(()));
}

#[test]
fn an_older_session_is_rejected_by_the_agent_after_a_rekey() {
    let mut link = Link::new(1000, 2000);
    let mut old = Vec::new();
    link.handshake(&mut old);
    for _ in 0..3 {
        let beat = link.beat();
        link.down(&beat).unwrap();
        old.push(beat);
    }
    link.agent.start_handshake();
    link.handshake(&mut Vec::new());
    for beat in &old[1..] {
        assert!(matches!(link.down(beat), Err(SessionError::WrongEcho { .. })));
    }

    // The controller reboots: its new session's beats echo nothing the agent
    // knows until the agent shakes hands again; then the old ones still fail.
    link.controller = Responder::new(3 << 32);
    let fresh = link.beat();
    assert!(matches!(link.down(&fresh), Err(SessionError::WrongEcho { .. })));
    link.agent.start_handshake();
    link.handshake(&mut Vec::new());
    for beat in &old[1..] {
        assert!(matches!(link.down(beat), Err(SessionError::WrongEcho { .. })));
    }
}

#[test]
fn responder_seq_never_restarts_after_a_rekey() {
    let mut link = Link::new(1000, 2000);
    let mut seqs = Vec::new();
    for _ in 0..4 {
        link.agent.start_handshake();
        link.handshake(&mut Vec::new());
        for _ in 0..3 {
            let beat = link.beat();
            link.down(&beat).unwrap();
            seqs.push(link.controller.last_sent_seq());
        }
    }
    // 4 handshake beats and 12 more, numbered 1..=16 across four sessions.
    assert_eq!(seqs.len(), 12);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(link.controller.last_sent_seq(), 16);
}

/// What the session model can do at each step.
#[derive(Debug, Clone)]
enum Step {
    /// The agent sends a Status; `lost` ones are recorded but not delivered.
    Status { lost: bool },
    /// The controller sends a Beat; `lost` ones are recorded but not delivered.
    Beat { lost: bool },
    /// The agent starts a new handshake and its Hello arrives.
    Rehandshake,
    /// The controller restarts with a fresh boot nonce.
    ControllerReboot,
    /// A recorded agent message (Hello or Status) is delivered (again).
    ReplayUp(proptest::sample::Index),
    /// A recorded controller message is delivered (again).
    ReplayDown(proptest::sample::Index),
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => any::<bool>().prop_map(|lost| Step::Status { lost }),
        3 => any::<bool>().prop_map(|lost| Step::Beat { lost }),
        1 => Just(Step::Rehandshake),
        1 => Just(Step::ControllerReboot),
        3 => any::<proptest::sample::Index>().prop_map(Step::ReplayUp),
        3 => any::<proptest::sample::Index>().prop_map(Step::ReplayDown),
    ]
}

/// What a receiver has accepted within one of its own sessions: messages of
/// a single sender session, in strictly increasing order, each once.
#[derive(Default)]
struct Accepted {
    /// The receiver's own nonce the session is under.
    own: u64,
    /// The sender nonce of the first accepted message.
    sender: Option<u64>,
    last_seq: u64,
}

impl Accepted {
    fn check(&mut self, own: u64, header: &Header) -> Result<(), TestCaseError> {
        if own != self.own {
            *self = Self { own, sender: None, last_seq: 0 };
        }
        let sender = *self.sender.get_or_insert(header.nonce);
        prop_assert_eq!(sender, header.nonce, "two sender sessions accepted under own nonce {:#x}", own);
        prop_assert!(header.seq > self.last_seq, "out of order or duplicate: {:?}", header);
        prop_assert_eq!(header.echo, own, "accepted a message echoing another nonce");
        self.last_seq = header.seq;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever mix of traffic, losses, rekeys, reboots and replays: under
    /// each of its own nonces a receiver accepts messages of one sender
    /// session only, in order and each once; a message accepted before is
    /// never accepted again; and a fresh handshake always heals the link.
    #[test]
    fn sessions_accept_one_ordered_stream_and_heal(steps in proptest::collection::vec(any_step(), 1..40)) {
        let auth = Auth::Crc;
        let mut agent = Initiator::new(7);
        let mut controller = Responder::new(1 << 32);
        let mut reboots = 1u64;
        let mut up_log: Vec<Message> = Vec::new();
        let mut down_log: Vec<Message> = Vec::new();
        let mut delivered_up = std::collections::HashSet::new();
        let mut delivered_down = std::collections::HashSet::new();
        let mut at_controller = Accepted::default();
        let mut at_agent = Accepted::default();

        let hello = agent.hello(NODE);
        controller.accept_hello(&hello.header);
        up_log.push(hello);

        // Delivers one agent message to the controller and checks the verdict.
        let mut up = |controller: &mut Responder, m: Message| -> Result<(), TestCaseError> {
            let m = decode(&frame(&m, &auth), &auth).unwrap();
            let seen = !delivered_up.insert(m.header);
            if m.body == Body::Hello {
                controller.accept_hello(&m.header);
            } else if controller.accept(&m.header).is_ok() {
                prop_assert!(!seen, "replayed {:?} accepted", m);
                at_controller.check(controller.nonce(), &m.header)?;
            }
            Ok(())
        };
        let mut down = |agent: &mut Initiator, m: Message| -> Result<(), TestCaseError> {
            let seen = !delivered_down.insert(m.header);
            if agent.accept(&m.header).is_ok() {
                prop_assert!(!seen, "replayed {:?} accepted", m);
                at_agent.check(agent.nonce(), &m.header)?;
            }
            Ok(())
        };

        for step in steps {
            match step {
                Step::Status { lost } => {
                    let m = Message { header: agent.header(NODE), body: status_body() };
                    up_log.push(m);
                    if !lost {
                        up(&mut controller, m)?;
                    }
                }
                Step::Beat { lost } => {
                    let m = Message { header: controller.header(NODE), body: beat_body() };
                    down_log.push(m);
                    if !lost {
                        down(&mut agent, m)?;
                    }
                }
                Step::Rehandshake => {
                    agent.start_handshake();
                    let hello = agent.hello(NODE);
                    up_log.push(hello);
                    up(&mut controller, hello)?;
                }
                Step::ControllerReboot => {
                    reboots += 1;
                    controller = Responder::new(reboots << 32);
                }
                Step::ReplayUp(i) => up(&mut controller, up_log[i.index(up_log.len())])?,
                Step::ReplayDown(i) => {
                    if !down_log.is_empty() {
                        down(&mut agent, down_log[i.index(down_log.len())])?;
                    }
                }
            }
        }

        agent.start_handshake();
        controller.accept_hello(&agent.hello(NODE).header);
        prop_assert_eq!(agent.accept(&controller.header(NODE)), Ok(()));
        prop_assert_eq!(controller.accept(&agent.header(NODE)), Ok(()));
    }
}

#[test]
fn every_error_has_a_message() {
    for e in [FrameError::TooLong, FrameError::BadTag, FrameError::BadVersion(9), FrameError::KeyTooLong { len: 99 }] {
        assert!(!e.to_string().is_empty());
    }
    assert!(FrameError::KeyTooLong { len: 99 }.to_string().contains("99"));
    assert!(SessionError::Replay { last: 5, got: 3 }.to_string().contains('5'));
    for auth in auths() {
        assert!(auth.tag_len() == 16 || auth.tag_len() == 4);
    }
}
