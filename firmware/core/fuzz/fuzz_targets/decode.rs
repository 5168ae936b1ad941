//! Arbitrary bytes into the streaming decoder under both protections: it must
//! never panic, report exactly one result per delimiter, and any message it
//! accepts must re-encode to a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::wire::{decode, encode, Auth, Decoder, Key, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    // The first byte picks a chunk size, so chunk boundaries get fuzzed too.
    let (chunk, bytes) = match data.split_first() {
        Some((&first, rest)) => (usize::from(first % 32) + 1, rest),
        None => (1, data),
    };
    let key = Key::new(b"fuzzing cluster key").expect("a valid key");
    for auth in [Auth::Hmac(key), Auth::Crc] {
        let mut decoder = Decoder::new();
        let mut reports = 0usize;
        for piece in bytes.chunks(chunk) {
            decoder.feed(piece, &auth, |result| {
                reports += 1;
                if let Ok(message) = result {
                    let mut frame = [0u8; MAX_FRAME];
                    let len = encode(&message, &auth, &mut frame)
                        .expect("an accepted message re-encodes");
                    assert_eq!(decode(&frame[..len], &auth), Ok(message));
                }
            });
        }
        let delimiters = bytes.iter().filter(|&&b| b == 0).count();
        assert_eq!(reports, delimiters);
        let stats = decoder.stats();
        assert_eq!(stats.ok as usize + stats.rejected() as usize, reports);
    }
});
