//! Arbitrary payloads in correctly sealed CRC frames, so the fuzzer reaches
//! the message parser behind the tag check: anything accepted must re-encode
//! to a frame that decodes to the same message, and a rejection must be one
//! of the errors an authentic frame can earn.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::wire::{decode, encode, Auth, Decoder, FrameError, MAX_FRAME, VERSION};

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

fuzz_target!(|payload: &[u8]| {
    // version | payload | CRC-32C, exactly as the encoder seals it.
    let mut content = Vec::with_capacity(payload.len() + 5);
    content.push(VERSION);
    content.extend_from_slice(payload);
    let crc = CRC32C.checksum(&content);
    content.extend_from_slice(&crc.to_le_bytes());
    let mut stream = vec![0u8; cobs::max_encoding_length(content.len()) + 1];
    let len = cobs::encode(&content, &mut stream);
    stream.truncate(len);
    stream.push(0);

    let auth = Auth::Crc;
    let mut decoder = Decoder::new();
    let mut reports = 0;
    decoder.feed(&stream, &auth, |result| {
        reports += 1;
        match result {
            Ok(message) => {
                let mut frame = [0u8; MAX_FRAME];
                let len =
                    encode(&message, &auth, &mut frame).expect("an accepted message re-encodes");
                assert_eq!(decode(&frame[..len], &auth), Ok(message));
            }
            Err(FrameError::TooLong) => assert!(stream.len() > MAX_FRAME),
            Err(FrameError::Truncated) => assert!(payload.is_empty()),
            Err(FrameError::Decode | FrameError::TrailingBytes) => {}
            Err(other) => panic!(
                "a sealed frame of {} bytes rejected as {other:?}",
                stream.len()
            ),
        }
    });
    assert_eq!(reports, 1);
});
