//! Links over a pseudo-terminal pair and over loopback UDP, carrying real
//! frames of the wire protocol.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use warden_bsp::linux::{Pty, SerialPort, UdpLink};
use warden_bsp::{Link, LinkError};
use warden_core::wire::{encode, Auth, Body, Decoder, Header, Key, Message, Status, MAX_FRAME};
use warden_core::{GroupSet, NodeId};

fn auth() -> Auth {
    Auth::Hmac(Key::new(b"a test key of some length").unwrap())
}

fn status(seq: u64) -> Message {
    Message {
        header: Header { node: NodeId(1), nonce: 11, echo: 22, seq },
        body: Body::Status(Status {
            applied: seq,
            holds: GroupSet(1),
            busy: GroupSet::EMPTY,
            healthy: GroupSet(1),
            failing: GroupSet::EMPTY,
            stuck: GroupSet::EMPTY,
            net_score: 3,
        }),
    }
}

/// Waits (poll(2), an upper bound for a hung test) until `fd` is readable.
fn wait_readable(fd: impl AsFd) {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let n = poll(&mut fds, PollTimeout::from(10_000u16)).unwrap();
    assert_eq!(n, 1, "nothing arrived");
}

/// Reads from `link` until `count` messages are decoded.
fn receive(link: &mut (impl Link + AsFd), count: usize) -> (Vec<Message>, Decoder) {
    let mut decoder = Decoder::new();
    let mut got = Vec::new();
    while got.len() < count {
        wait_readable(link.as_fd());
        let mut buf = [0u8; 300];
        let n = link.read_available(&mut buf).unwrap();
        decoder.feed(&buf[..n], &auth(), |r| {
            if let Ok(m) = r {
                got.push(m);
            }
        });
    }
    (got, decoder)
}

#[test]
fn frames_cross_a_pty_both_ways_with_noise_counted() {
    let pty = Pty::open().unwrap();
    let mut port = SerialPort::open(pty.path(), 115_200).unwrap();
    let mut far = pty.master.try_clone().unwrap();

    // Far end to port: noise, then two frames.
    let mut frame = [0u8; MAX_FRAME];
    far.write_all(&[0x42, 0x17, 0x00]).unwrap();
    for seq in [1, 2] {
        let n = encode(&status(seq), &auth(), &mut frame).unwrap();
        far.write_all(&frame[..n]).unwrap();
    }
    let (got, decoder) = receive(&mut port, 2);
    assert_eq!(got, vec![status(1), status(2)]);
    assert_eq!(decoder.stats().rejected(), 1, "{:?}", decoder.stats());

    // Port to far end.
    let n = encode(&status(9), &auth(), &mut frame).unwrap();
    port.write_frame(&frame[..n]).unwrap();
    let mut back = vec![0u8; n];
    far.read_exact(&mut back).unwrap();
    assert_eq!(back, frame[..n]);

    // Nothing more has arrived: a read returns at once with nothing.
    let mut buf = [0u8; 16];
    assert_eq!(port.read_available(&mut buf), Ok(0));
}

#[test]
fn a_vanished_far_end_is_disconnected() {
    let pty = Pty::open().unwrap();
    let mut port = SerialPort::open(pty.path(), 115_200).unwrap();
    drop(pty);
    let mut buf = [0u8; 16];
    assert_eq!(port.read_available(&mut buf), Err(LinkError::Disconnected));
}

#[test]
fn open_names_the_port() {
    let err = SerialPort::open(std::path::Path::new("/dev/warden-no-such-tty"), 9600).unwrap_err();
    assert!(err.to_string().starts_with("serial port /dev/warden-no-such-tty: "), "{err}");
}

#[test]
fn udp_links_to_two_peers_share_a_listen_address() {
    let agent_a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let agent_b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Find a free port for the controller, then let both links bind it.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let listen = probe.local_addr().unwrap();
    drop(probe);
    let mut link_a = UdpLink::open(listen, agent_a.local_addr().unwrap()).unwrap();
    let mut link_b = UdpLink::open(listen, agent_b.local_addr().unwrap()).unwrap();

    let mut frame = [0u8; MAX_FRAME];
    let n = encode(&status(5), &auth(), &mut frame).unwrap();
    agent_b.send_to(&frame[..n], listen).unwrap();
    let (got, _) = receive(&mut link_b, 1);
    assert_eq!(got, vec![status(5)]);
    let mut buf = [0u8; 300];
    assert_eq!(link_a.read_available(&mut buf), Ok(0), "b's datagram reached a's link");

    link_a.write_frame(&frame[..n]).unwrap();
    let (len, from) = agent_a.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..len], from), (&frame[..n], listen));
}
