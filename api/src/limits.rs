//! The limits of the API: what one request may hold.
//!
//! They are part of the API (clients size their requests by them) and are
//! declared here once. The server must enforce exactly these constants, not
//! copies of them, and clients must stay within them.

/// Largest body of `POST /register`, in bytes.
pub const REGISTER_BODY_LIMIT: u64 = 16 * 1024;

/// Largest body of `POST /reportReading`: the core's limit for one signed
/// reading.
pub const READING_BODY_LIMIT: u64 = smartmeter_core::MAX_JSON_LEN as u64;

/// Most readings in one `POST /reportReadings` batch; more is 413
/// `batch_too_large`.
///
/// The one declaration of the batch size: the server must refuse a longer
/// batch with this constant, and a client (the simulator) sends at most
/// this many readings per batch.
pub const MAX_BATCH_LEN: usize = 256;

/// Largest body of `POST /reportReadings`: a full batch of the largest
/// readings, with a separator each and room for the envelope.
pub const BATCH_BODY_LIMIT: u64 = (MAX_BATCH_LEN as u64) * (READING_BODY_LIMIT + 8) + 64;

/// Largest `limit` of a page of meters or readings.
pub const MAX_PAGE_LEN: u32 = 1000;

/// The `limit` of a page when the request names none.
pub const DEFAULT_PAGE_LEN: u32 = 100;

/// Longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;

// Checked when the crate builds: a full batch of the largest readings
// (`{"readings":[`, readings and commas, `]}`) fits the body limit, and the
// default page is a page the server accepts.
const _: () = assert!(14 + MAX_BATCH_LEN as u64 * (READING_BODY_LIMIT + 1) + 2 <= BATCH_BODY_LIMIT);
const _: () = assert!(DEFAULT_PAGE_LEN <= MAX_PAGE_LEN);
