//! Resource and correlation ids.

use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::{SecureRandom, SystemRandom};

static FALLBACK: AtomicU64 = AtomicU64::new(0);

/// A random UUID (version 4) in its hyphenated lower-case form.
pub(crate) fn random_id() -> String {
    let mut b = [0u8; 16];
    if SystemRandom::new().fill(&mut b).is_err() {
        // The OS generator failing is near impossible; ids must still be unique.
        let n = FALLBACK.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let bytes = (t ^ (u128::from(n) << 64)).to_be_bytes();
        b = bytes;
    }
    let [
        b0,
        b1,
        b2,
        b3,
        b4,
        b5,
        b6,
        b7,
        b8,
        b9,
        b10,
        b11,
        b12,
        b13,
        b14,
        b15,
    ] = b;
    format!(
        "{b0:02x}{b1:02x}{b2:02x}{b3:02x}-{b4:02x}{b5:02x}-{:02x}{b7:02x}-{:02x}{b9:02x}-{b10:02x}{b11:02x}{b12:02x}{b13:02x}{b14:02x}{b15:02x}",
        (b6 & 0x0f) | 0x40,
        (b8 & 0x3f) | 0x80,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_v4_shape() {
        let id = super::random_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, super::random_id());
    }
}
