//! Session rules: nonces, sequence numbers, replay rejection (DESIGN §2).
//!
//! Only the agent starts sessions, so handshakes never cross:
//!
//! * The agent ([`Initiator`]) picks a fresh nonce for every handshake
//!   (`boot nonce + k`) and sends `Hello` with it until a Beat arrives that
//!   echoes it. It accepts a Beat only if `echo` equals its current nonce, the
//!   sender nonce equals the controller nonce learned from the first such Beat,
//!   and `seq` is above the last accepted. A Beat from another controller
//!   nonce, or one that echoes an old agent nonce, starts a new handshake
//!   (rate-limited by the caller): the controller rebooted, or someone replays.
//! * The controller ([`Responder`], one per node) accepts a `Hello` at any time
//!   (it is authenticated): it moves its own nonce on (`+1`), learns the agent's
//!   nonce and forgets the last sequence number. It accepts any other message
//!   only if the sender nonce is the learned one, `echo` is its own current
//!   nonce, and `seq` is above the last accepted.
//! * The controller's sending sequence number never restarts within a boot, so
//!   a Status's `applied` can always be compared with the seq of a Beat.
//!
//! A recording of an older session can never be replayed into a newer one:
//! every message of the older session echoes a nonce the receiver has since
//! moved away from.
