//! `par_map`: the one way isect spreads CPU work (script evaluation, cache lookups, hashing)
//! over cores. Below a threshold it stays on the calling thread: on small inputs a thread
//! start and a cross-core wake-up cost more than the work.

/// Items below which work stays on the calling thread.
const PARALLEL_ABOVE: usize = 64;

/// `items.iter().map(f)`, in order, on all cores when there are enough items.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = if items.len() > PARALLEL_ABOVE {
        crate::cores()
    } else {
        1
    };
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::par_map;

    #[test]
    fn keeps_order_above_and_below_the_threshold() {
        let small: Vec<u32> = (0..10).collect();
        assert_eq!(
            par_map(&small, |x| x * 2),
            small.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        let large: Vec<u32> = (0..1000).collect();
        assert_eq!(
            par_map(&large, |x| x + 1),
            large.iter().map(|x| x + 1).collect::<Vec<_>>()
        );
    }
}
