//! A Count-Min sketch with 4-bit counters and periodic halving: TinyLFU's frequency estimate.

/// Row seeds: odd 64-bit constants, one per row, mixed into the key hash before indexing.
const SEEDS: [u64; 4] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];

/// The most entries a sketch is sized for: 2^20 entries, 4 rows of 2^22 4-bit counters, 8 MiB.
const MAX_ENTRIES: usize = 1 << 20;

/// The largest value of a 4-bit counter.
const MAX_COUNT: u8 = 15;

/// SplitMix64's finaliser: a well-mixed 64-bit hash of `x` (a weak hash inflates estimates).
#[must_use]
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Count-Min sketch: depth 4, 4-bit counters (two per byte), all counters halved after `10 × expected entries`
/// increments so old popularity fades (TinyLFU's reset).
#[derive(Debug, Clone)]
pub struct CountMinSketch {
    counters: Vec<u8>,
    width: usize,
    additions: u64,
    sample_size: u64,
}

impl CountMinSketch {
    /// A sketch sized for about `expected_entries` cached keys (clamped to `4..=2^20`, so at most 8 MiB):
    /// `4 × expected_entries` counters per row (rounded up to a power of two), halved after
    /// `10 × expected_entries` increments.
    #[must_use]
    pub fn new(expected_entries: usize) -> Self {
        let entries = expected_entries.clamp(4, MAX_ENTRIES).next_power_of_two();
        // Four counters per expected entry and row, as Caffeine's sketch (16 per entry over 4 rows): fewer
        // collisions, so cold keys rarely borrow a hot key's count.
        let width = entries * 4;
        Self {
            counters: vec![0; width * SEEDS.len() / 2],
            width,
            additions: 0,
            sample_size: (entries as u64).saturating_mul(10),
        }
    }

    fn slots(&self, hash: u64) -> [usize; 4] {
        let mask = (self.width - 1) as u64;
        let mut out = [0; 4];
        for (row, (slot, seed)) in out.iter_mut().zip(SEEDS).enumerate() {
            let column = usize::try_from(mix64(hash ^ seed) & mask).unwrap_or(0);
            *slot = row * self.width + column;
        }
        out
    }

    fn get(&self, slot: usize) -> u8 {
        let byte = self.counters.get(slot / 2).copied().unwrap_or(0);
        if slot.is_multiple_of(2) {
            byte & 0x0F
        } else {
            byte >> 4
        }
    }

    fn bump(&mut self, slot: usize) -> bool {
        let value = self.get(slot);
        if value >= MAX_COUNT {
            return false;
        }
        if let Some(byte) = self.counters.get_mut(slot / 2) {
            *byte += if slot.is_multiple_of(2) { 1 } else { 0x10 };
        }
        true
    }

    /// Counts one occurrence of the key with this 64-bit hash.
    pub fn increment(&mut self, hash: u64) {
        let mut added = false;
        for slot in self.slots(hash) {
            added |= self.bump(slot);
        }
        if added {
            self.additions += 1;
            if self.additions >= self.sample_size {
                self.halve();
            }
        }
    }

    /// The estimated count of the key with this hash (0..=15; never below the true count since the last halving).
    #[must_use]
    pub fn estimate(&self, hash: u64) -> u8 {
        self.slots(hash)
            .into_iter()
            .map(|slot| self.get(slot))
            .min()
            .unwrap_or(0)
    }

    fn halve(&mut self) {
        for byte in &mut self.counters {
            *byte = (*byte >> 1) & 0x77;
        }
        self.additions /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_and_halve() {
        let mut sketch = CountMinSketch::new(16);
        for _ in 0..20 {
            sketch.increment(42);
        }
        assert_eq!(sketch.estimate(42), 15);
        assert_eq!(sketch.estimate(7), 0);
        sketch.halve();
        assert_eq!(sketch.estimate(42), 7);
    }

    #[test]
    fn resets_after_the_sample_size() {
        let mut sketch = CountMinSketch::new(4);
        // 16 counters per row, sample size 40: distinct keys keep adding until the halving.
        for key in 0..39 {
            sketch.increment(key);
        }
        let before: u32 = sketch.counters.iter().map(|b| b.count_ones()).sum();
        sketch.increment(1000);
        let after: u32 = sketch.counters.iter().map(|b| b.count_ones()).sum();
        assert_eq!(sketch.additions, 20, "halved at 40");
        assert!(after < before);
    }
}
