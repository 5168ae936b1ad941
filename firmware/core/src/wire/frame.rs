//! Frames: encoding and the streaming decoder.
