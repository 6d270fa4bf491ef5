//! Work spread over the machine's cores: key generation and parsing
//! (keystore) and signing ahead of time (presign).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f(i)` for `i` in `0..n` on `threads` OS threads and returns the
/// results in order; `tick` is called after each item (progress).
pub fn parallel_map<T, F>(n: usize, threads: usize, f: F, tick: &(dyn Fn() + Sync)) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync,
{
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, T)> = Vec::with_capacity(n);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.clamp(1, n.max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break mine;
                        }
                        mine.push((i, f(i)));
                        tick();
                    }
                })
            })
            .collect();
        for w in workers {
            // A worker only panics if `f` panics; its items are then missing
            // and the caller sees fewer results than asked for.
            if let Ok(mine) = w.join() {
                out.extend(mine);
            }
        }
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// The number of CPU threads to use for key and signing work.
pub fn cpu_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_order() {
        let v = parallel_map(100, 3, |i| i * 2, &|| {});
        assert_eq!(v, (0..100).map(|i| i * 2).collect::<Vec<_>>());
    }
}
