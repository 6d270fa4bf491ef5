//! Progress bars of the stages, on standard error.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps named `what`; hidden when `show` is false (and, by
/// indicatif, when standard error is not a terminal).
pub fn bar(show: bool, len: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    // The template is a constant that parses; the default style is only a
    // look, not a loss, should it ever not.
    let style = ProgressStyle::with_template(
        "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_prefix(what.to_string());
    pb
}
