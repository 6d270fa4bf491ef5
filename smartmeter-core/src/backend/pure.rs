//! The verifier of every target: RSASSA-PKCS1-v1_5 with SHA-256 for
//! e = 65537, in pure Rust. On native targets it is faster than ring, which
//! recomputes the modulus's Montgomery constants on every call (measured in
//! `docs/performance.md`); ring stays there as the independent reference the
//! differential tests and the fuzz target hold this verifier to.
//!
//! It is variable time on purpose. Verification handles public data only
//! (the key, the signature, the message), so there is no secret whose timing
//! could leak; a constant-time exponentiation (what the `rsa` crate does)
//! pays for a sliding window over a secret-sized exponent that e = 65537 does
//! not need. Here s^65537 mod n is 16 squarings and 1 multiplication in
//! Montgomery form, plus one multiplication to enter it; the last
//! multiplication takes the plain `s` and so leaves Montgomery form for free.
//!
//! The arithmetic (module `monty`) works on fixed-size arrays: the modulus
//! is kept in the smallest of three sizes (2048, 3072 or 4096 bits) that
//! holds it, so every loop has a length the compiler knows and a
//! verification allocates nothing. Montgomery arithmetic needs only an odd modulus below
//! R = 2^(size), so a 2049-bit modulus in the 3072-bit size is as correct as
//! a full one. Squarings, 16 of the 18 operations, compute each cross
//! product once (a quarter fewer word multiplications than a general
//! Montgomery multiplication).
//!
//! The checks follow RFC 8017 section 8.2.2 and `docs/spec.md` section 9:
//! the signature is exactly `k` bytes, `s < n`, and the recovered encoded
//! message equals the EMSA-PKCS1-v1_5 encoding of SHA-256 of the message,
//! compared in full, byte for byte (no parsing of padding or DigestInfo).

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use self::monty::{Digit, Modulus};

/// DER of the `DigestInfo` prefix for SHA-256 (RFC 8017 section 9.2, note 1):
/// the hash follows it.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The word of the arithmetic: the widest whose product the target
/// multiplies natively. wasm32 has a 64x64->64-bit multiply but no 128-bit
/// product, so 32-bit words there.
#[cfg(target_pointer_width = "64")]
type Word = u64;
/// The word of the arithmetic (see the 64-bit definition).
#[cfg(not(target_pointer_width = "64"))]
type Word = u32;

/// Words in a 2048-bit integer.
const WORDS_2048: usize = 2048 / Word::BITS as usize;
/// Words in a 3072-bit integer.
const WORDS_3072: usize = 3072 / Word::BITS as usize;
/// Words in a 4096-bit integer, the largest modulus the key policy admits.
const WORDS_4096: usize = 4096 / Word::BITS as usize;
/// The longest modulus, in bytes.
const MAX_LEN: usize = 4096 / 8;

/// A public key prepared for the portable verifier: the Montgomery
/// constants of the modulus in its size class, computed once per key.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    class: Class,
    /// `k`: the modulus length in bytes, the length of every signature.
    len: usize,
}

/// The modulus in the smallest size that holds it. Shared: the constants of
/// the largest size take 1.5 KiB, and a `PublicKey` that holds them is cloned
/// with every reading built from it.
#[derive(Clone, Debug)]
enum Class {
    Up2048(Arc<Modulus<Word, WORDS_2048>>),
    Up3072(Arc<Modulus<Word, WORDS_3072>>),
    Up4096(Arc<Modulus<Word, WORDS_4096>>),
}

impl VerifyingKey {
    /// Prepares a modulus given as big-endian bytes without leading zeros,
    /// with the exponent 65537 implied. `None` for an even or zero modulus
    /// (Montgomery arithmetic needs an odd one) or one above 4096 bits; the
    /// key policy refuses both before any backend sees them.
    pub fn new(modulus: &[u8]) -> Option<Self> {
        let class = if modulus.len() <= 2048 / 8 {
            Class::Up2048(Arc::new(Modulus::new(&monty::from_be_bytes(modulus)?)?))
        } else if modulus.len() <= 3072 / 8 {
            Class::Up3072(Arc::new(Modulus::new(&monty::from_be_bytes(modulus)?)?))
        } else {
            Class::Up4096(Arc::new(Modulus::new(&monty::from_be_bytes(modulus)?)?))
        };
        Some(Self {
            class,
            len: modulus.len(),
        })
    }

    /// Whether `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature
    /// of `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // RFC 8017 8.2.2 step 1: exactly k bytes.
        if signature.len() != self.len {
            return false;
        }
        let hash: [u8; 32] = Sha256::digest(message).into();
        match &self.class {
            Class::Up2048(modulus) => verify_in(modulus, signature, &hash),
            Class::Up3072(modulus) => verify_in(modulus, signature, &hash),
            Class::Up4096(modulus) => verify_in(modulus, signature, &hash),
        }
    }
}

/// RSAVP1 and the comparison of RFC 8017 8.2.2, for a signature of exactly
/// `k` bytes, in the size class of `modulus`.
fn verify_in<D: Digit, const L: usize>(
    modulus: &Modulus<D, L>,
    signature: &[u8],
    hash: &[u8; 32],
) -> bool {
    let Some(s) = monty::from_be_bytes::<D, L>(signature) else {
        return false;
    };
    // Step 2.b (RSAVP1 step 1): the representative must be below n.
    let Some(m) = modulus.pow_65537(&s) else {
        return false;
    };
    let mut bytes = [0; MAX_LEN];
    let Some(written) = monty::to_be_bytes(&m, &mut bytes) else {
        return false;
    };
    is_encoded_message(written, signature.len(), hash)
}

/// Whether `bytes`, a big-endian integer, is the EMSA-PKCS1-v1_5 encoding
/// with SHA-256 (RFC 8017 section 9.2) to `len` bytes of a message whose
/// hash is `hash`: `00 01 FF..FF 00 DigestInfo hash`, with at least 8 bytes
/// of `FF`. Every byte is compared in place; bytes above `len` must be zero.
fn is_encoded_message(bytes: &[u8], len: usize, hash: &[u8; 32]) -> bool {
    let Some((above, em)) = bytes.split_at_checked(bytes.len().saturating_sub(len)) else {
        return false;
    };
    let tail_len = 1 + SHA256_DIGEST_INFO.len() + hash.len();
    let Some((head, tail)) = em.split_at_checked(em.len().saturating_sub(tail_len)) else {
        return false;
    };
    let Some((prefix, padding)) = head.split_at_checked(2) else {
        return false;
    };
    let Some((separator, rest)) = tail.split_first() else {
        return false;
    };
    let Some((digest_info, digest)) = rest.split_at_checked(SHA256_DIGEST_INFO.len()) else {
        return false;
    };
    em.len() == len
        && above.iter().all(|&b| b == 0)
        && prefix == [0x00, 0x01]
        // RFC 8017 9.2 step 3: at least 8 bytes of padding.
        && padding.len() >= 8
        && padding.iter().all(|&b| b == 0xff)
        && *separator == 0x00
        && digest_info == SHA256_DIGEST_INFO
        && digest == hash
}

/// Montgomery arithmetic modulo an odd integer of `L` words, in variable
/// time, for public values only.
///
/// Numbers are little-endian arrays of words. With R = 2^(L·w) for w-bit
/// words and n odd, the Montgomery product of a and b is a·b·R⁻¹ mod n; it
/// needs no division, only word multiplications and the constant
/// n' = -n⁻¹ mod 2^w. Every operation takes and returns fully reduced values
/// (below n), which is what lets one conditional subtraction finish each.
///
/// The products are computed column by column ("product scanning"): all the
/// word products that land in one output word are summed in an accumulator
/// that cannot overflow (three words with 64-bit words; two 64-bit sums of
/// product halves with 32-bit words), and the reduction's multiples of n
/// join the same columns. No intermediate row is stored, and each word
/// product costs a multiply and three additions.
///
/// Generic over the word so that the 32-bit arithmetic wasm32 runs is
/// tested on native targets too.
pub(super) mod monty {
    /// A machine word of the arithmetic: `u64` with `u128` products, or
    /// `u32` with `u64` products.
    pub trait Digit: Copy + Eq + Ord + core::fmt::Debug {
        /// A column sum of word products and carries (see each word for its
        /// form and why it cannot overflow).
        type Acc: Copy;
        /// Zero.
        const ZERO: Self;
        /// One.
        const ONE: Self;
        /// Width in bits.
        const BITS: u32;
        /// Width in bytes.
        const BYTES: usize;
        /// The empty sum.
        const ACC_ZERO: Self::Acc;
        /// `acc += a · b`.
        fn mac(acc: &mut Self::Acc, a: Self, b: Self);
        /// `acc += other`.
        fn acc_add(acc: &mut Self::Acc, other: &Self::Acc);
        /// `acc *= 2`.
        fn acc_double(acc: &mut Self::Acc);
        /// The low word of `acc`.
        fn acc_low(acc: &Self::Acc) -> Self;
        /// `acc >>= w`: drops the low word.
        fn acc_shift(acc: &mut Self::Acc);
        /// `self - b - borrow` as (difference, borrow out).
        fn sub_borrow(self, b: Self, borrow: bool) -> (Self, bool);
        /// `self · b mod 2^w`.
        fn wrapping_mul(self, b: Self) -> Self;
        /// `2 · self + carry` as (low word, the bit shifted out).
        fn double_carry(self, carry: bool) -> (Self, bool);
        /// Whether the lowest bit is set.
        fn is_odd(self) -> bool;
        /// The number of zero bits above the highest set bit.
        fn leading_zeros(self) -> u32;
        /// 2^bit, for bit < w.
        fn bit(bit: u32) -> Self;
        /// The word of up to `BYTES` big-endian bytes.
        fn from_be_chunk(chunk: &[u8]) -> Self;
        /// The word's `BYTES` big-endian bytes into `out` (as many as fit).
        fn write_be(self, out: &mut [u8]);
    }

    /// The items of [`Digit`] that are the same for both words.
    macro_rules! word_items {
        ($word:ty) => {
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const BITS: u32 = <$word>::BITS;
            const BYTES: usize = core::mem::size_of::<$word>();

            #[inline(always)]
            fn sub_borrow(self, b: Self, borrow: bool) -> (Self, bool) {
                let (d, b1) = self.overflowing_sub(b);
                let (d, b2) = d.overflowing_sub(<$word>::from(borrow));
                (d, b1 | b2)
            }

            #[inline(always)]
            fn wrapping_mul(self, b: Self) -> Self {
                <$word>::wrapping_mul(self, b)
            }

            #[inline(always)]
            fn double_carry(self, carry: bool) -> (Self, bool) {
                (
                    self << 1 | <$word>::from(carry),
                    self >> (<$word>::BITS - 1) == 1,
                )
            }

            fn is_odd(self) -> bool {
                self & 1 == 1
            }

            fn leading_zeros(self) -> u32 {
                <$word>::leading_zeros(self)
            }

            fn bit(bit: u32) -> Self {
                1 << bit
            }

            fn from_be_chunk(chunk: &[u8]) -> Self {
                chunk.iter().fold(0, |acc, &b| acc << 8 | <$word>::from(b))
            }

            fn write_be(self, out: &mut [u8]) {
                for (slot, byte) in out.iter_mut().zip(self.to_be_bytes()) {
                    *slot = byte;
                }
            }
        };
    }

    /// 64-bit words with 128-bit products (64-bit targets). The sum is three
    /// words, [low, middle, high]: each product is added with carries, which
    /// x86_64 and aarch64 do in one add-with-carry chain. A column sums at
    /// most 2L + 2 products and carries below 2^128, so the high word never
    /// overflows.
    impl Digit for u64 {
        type Acc = [u64; 3];
        const ACC_ZERO: Self::Acc = [0; 3];

        #[inline(always)]
        fn mac(acc: &mut Self::Acc, a: Self, b: Self) {
            let product = u128::from(a) * u128::from(b);
            // Truncations on purpose: the low and the high word.
            let (low, high) = (product as u64, (product >> 64) as u64);
            let (sum, carry) = acc[0].overflowing_add(low);
            acc[0] = sum;
            let (sum, carry_a) = acc[1].overflowing_add(high);
            let (sum, carry_b) = sum.overflowing_add(u64::from(carry));
            acc[1] = sum;
            acc[2] = acc[2].wrapping_add(u64::from(carry_a | carry_b));
        }

        #[inline(always)]
        fn acc_add(acc: &mut Self::Acc, other: &Self::Acc) {
            let (sum, carry) = acc[0].overflowing_add(other[0]);
            acc[0] = sum;
            let (sum, carry_a) = acc[1].overflowing_add(other[1]);
            let (sum, carry_b) = sum.overflowing_add(u64::from(carry));
            acc[1] = sum;
            acc[2] = acc[2]
                .wrapping_add(other[2])
                .wrapping_add(u64::from(carry_a | carry_b));
        }

        #[inline(always)]
        fn acc_double(acc: &mut Self::Acc) {
            acc[2] = acc[2] << 1 | acc[1] >> 63;
            acc[1] = acc[1] << 1 | acc[0] >> 63;
            acc[0] <<= 1;
        }

        #[inline(always)]
        fn acc_low(acc: &Self::Acc) -> Self {
            acc[0]
        }

        #[inline(always)]
        fn acc_shift(acc: &mut Self::Acc) {
            *acc = [acc[1], acc[2], 0];
        }

        word_items!(u64);
    }

    /// 32-bit words with 64-bit products (wasm32 and other 32-bit
    /// targets). The sum is (s, h) for s + h·2^32: the low and the high
    /// halves of the products are summed apart, each in 64 bits, so a
    /// product costs a multiply, a mask, a shift and two additions, with no
    /// carry to detect (wasm has no carry flag). A column adds at most
    /// 2L + 2 < 2^9 halves below 2^32 to a carry below 2^42: no overflow.
    impl Digit for u32 {
        type Acc = (u64, u64);
        const ACC_ZERO: Self::Acc = (0, 0);

        #[inline(always)]
        fn mac(acc: &mut Self::Acc, a: Self, b: Self) {
            let product = u64::from(a) * u64::from(b);
            acc.0 = acc.0.wrapping_add(product & 0xffff_ffff);
            acc.1 = acc.1.wrapping_add(product >> 32);
        }

        #[inline(always)]
        fn acc_add(acc: &mut Self::Acc, other: &Self::Acc) {
            acc.0 = acc.0.wrapping_add(other.0);
            acc.1 = acc.1.wrapping_add(other.1);
        }

        #[inline(always)]
        fn acc_double(acc: &mut Self::Acc) {
            acc.0 <<= 1;
            acc.1 <<= 1;
        }

        #[inline(always)]
        fn acc_low(acc: &Self::Acc) -> Self {
            // Truncation on purpose: h·2^32 adds nothing to the low word.
            acc.0 as u32
        }

        #[inline(always)]
        fn acc_shift(acc: &mut Self::Acc) {
            // (s + h·2^32) >> 32 = (s >> 32) + h, exactly.
            *acc = ((acc.0 >> 32).wrapping_add(acc.1), 0);
        }

        word_items!(u32);
    }

    /// Big-endian bytes as an integer of `L` words; `None` if they do not
    /// fit. Leading zero bytes are allowed.
    pub fn from_be_bytes<D: Digit, const L: usize>(bytes: &[u8]) -> Option<[D; L]> {
        if bytes.len() > L * D::BYTES {
            return None;
        }
        let mut words = [D::ZERO; L];
        // The least significant word holds the last bytes; a shorter input
        // leaves the words above it zero.
        for (word, chunk) in words.iter_mut().zip(bytes.rchunks(D::BYTES)) {
            *word = D::from_be_chunk(chunk);
        }
        Some(words)
    }

    /// Writes `x` big-endian into the end of `out` and returns that part,
    /// `L · BYTES` long; `None` if `out` is shorter.
    pub fn to_be_bytes<'a, D: Digit, const L: usize>(
        x: &[D; L],
        out: &'a mut [u8],
    ) -> Option<&'a [u8]> {
        let start = out.len().checked_sub(L * D::BYTES)?;
        let written = out.get_mut(start..)?;
        for (chunk, word) in written.rchunks_exact_mut(D::BYTES).zip(x) {
            word.write_be(chunk);
        }
        Some(written)
    }

    /// Whether `a < b`.
    fn less<D: Digit, const L: usize>(a: &[D; L], b: &[D; L]) -> bool {
        // The most significant differing word decides.
        a.iter().rev().cmp(b.iter().rev()).is_lt()
    }

    /// An odd modulus n of `L` words with its Montgomery constants.
    #[derive(Clone, Debug)]
    pub struct Modulus<D, const L: usize> {
        n: [D; L],
        /// The words of n in reverse order: a column of a product pairs
        /// ascending words of one factor with descending words of the other.
        n_reversed: [D; L],
        /// -n⁻¹ mod 2^w.
        n0_inv: D,
        /// R² mod n: a Montgomery product with it enters Montgomery form.
        r2: [D; L],
    }

    impl<D: Digit, const L: usize> Modulus<D, L> {
        /// Prepares an odd `n > 1`; `None` if it is even (zero included),
        /// 1 (no residues to work with), or `L` is zero.
        pub fn new(n: &[D; L]) -> Option<Self> {
            let low = *n.first()?;
            if !low.is_odd() || bit_length(n) < 2 {
                return None;
            }
            let mut modulus = Self {
                n: *n,
                n_reversed: reversed(n),
                n0_inv: neg_inverse(low),
                r2: [D::ZERO; L],
            };
            modulus.r2 = modulus.r_squared();
            Some(modulus)
        }

        /// R² mod n, for the tests of the arithmetic.
        #[cfg(test)]
        pub const fn r2(&self) -> &[D; L] {
            &self.r2
        }

        /// s^65537 mod n; `None` unless `s < n`.
        pub fn pow_65537(&self, s: &[D; L]) -> Option<[D; L]> {
            if !less(s, &self.n) {
                return None;
            }
            // x = s·R mod n: s in Montgomery form.
            let mut x = self.mul(s, &self.r2);
            // x = s^(2^16)·R mod n.
            for _ in 0..16 {
                x = self.square(&x);
            }
            // A Montgomery product with the plain s divides by R once:
            // s^(2^16)·R · s · R⁻¹ = s^65537, out of Montgomery form.
            Some(self.mul(&x, s))
        }

        /// R² mod n, by doubling and Montgomery squaring: no division.
        ///
        /// Write R = 2^(L·w) = 2^(c·2^t). Doublings of 2^(bits(n) - 1),
        /// which is below n as an odd n > 1 is no power of two, reach R·2^c mod n; then each Montgomery squaring doubles the
        /// exponent above R, (R·2^e)²·R⁻¹ = R·2^(2e), and t of them give
        /// R·2^(c·2^t) = R². A doubling costs about a hundredth of a
        /// squaring, so t is at most 5: for a 2048-bit n, 65 doublings and 5
        /// squarings.
        fn r_squared(&self) -> [D; L] {
            let r_bits = L as u64 * u64::from(D::BITS);
            let t = r_bits.trailing_zeros().min(5);
            let c = r_bits >> t;
            let top = bit_length(&self.n).saturating_sub(1);
            let mut x = power_of_two(top);
            for _ in top..r_bits + c {
                self.double(&mut x);
            }
            for _ in 0..t {
                x = self.square(&x);
            }
            x
        }

        /// x = 2x mod n, for x < n, in place.
        fn double(&self, x: &mut [D; L]) {
            let mut carry = false;
            for word in x.iter_mut() {
                (*word, carry) = word.double_carry(carry);
            }
            self.reduce_in_place(x, carry);
        }

        /// `x + carry·R` reduced below n, given that it is below 2n.
        #[inline(always)]
        fn reduce_once(&self, mut x: [D; L], carry: bool) -> [D; L] {
            self.reduce_in_place(&mut x, carry);
            x
        }

        /// `x + carry·R` reduced below n in place, given that it is below 2n.
        #[inline(always)]
        fn reduce_in_place(&self, x: &mut [D; L], carry: bool) {
            if carry || !less(x, &self.n) {
                let mut borrow = false;
                for (word, &n) in x.iter_mut().zip(&self.n) {
                    (*word, borrow) = word.sub_borrow(n, borrow);
                }
            }
        }

        /// The Montgomery product a·b·R⁻¹ mod n, for a, b < n.
        pub fn mul(&self, a: &[D; L], b: &[D; L]) -> [D; L] {
            self.montgomery::<false>(a, &reversed(b))
        }

        /// The Montgomery square a²·R⁻¹ mod n, for a < n. Each cross product
        /// a_i·a_j (i < j) is computed once and doubled: L(L+1)/2 word
        /// products instead of L².
        pub fn square(&self, a: &[D; L]) -> [D; L] {
            self.montgomery::<true>(a, &reversed(a))
        }

        /// Montgomery multiplication of a by b, given b's words in reverse
        /// order (a when `SQUARE`), by columns ("finely integrated product
        /// scanning"). For each output column k = i + j of the product, every
        /// a_i·b_j with i + j = k is added to the column's sum, then the
        /// multiples m_j·n_(k-j) of the reduction join. In the low L
        /// columns, m_k is chosen so that the column's low word becomes zero
        /// (m_k = acc_0·n' mod 2^w), which makes the whole sum a multiple of
        /// R; the high L columns are the result, (a·b + m·n)/R < 2n, then
        /// reduced once.
        #[inline(always)]
        #[expect(
            clippy::indexing_slicing,
            reason = "column bounds of an L-word product; the invariants are below"
        )]
        fn montgomery<const SQUARE: bool>(&self, a: &[D; L], b_reversed: &[D; L]) -> [D; L] {
            let mut m = [D::ZERO; L];
            let mut out = [D::ZERO; L];
            let mut acc = D::ACC_ZERO;
            for k in 0..L {
                Self::column::<SQUARE>(&mut acc, a, b_reversed, k, 0, k);
                // m_j·n_(k-j) for j < k; n_(k-j) is word L - 1 - k + j of
                // n reversed.
                // INVARIANT: k < L, so the ranges are in bounds, k long.
                dot(&mut acc, &m[..k], &self.n_reversed[L - 1 - k..L - 1]);
                let mk = D::acc_low(&acc).wrapping_mul(self.n0_inv);
                D::mac(&mut acc, mk, self.n[0]);
                m[k] = mk;
                D::acc_shift(&mut acc);
            }
            for k in L..2 * L - 1 {
                let lo = k + 1 - L;
                Self::column::<SQUARE>(&mut acc, a, b_reversed, k, lo, L - 1);
                // m_j·n_(k-j) for lo <= j < L.
                // INVARIANT: L <= k < 2L - 1, so 1 <= lo < L and both
                // ranges are L - lo long.
                dot(&mut acc, &m[lo..], &self.n_reversed[..L - lo]);
                out[k - L] = D::acc_low(&acc);
                D::acc_shift(&mut acc);
            }
            // INVARIANT: L >= 1 (`new` read word 0 of n).
            out[L - 1] = D::acc_low(&acc);
            D::acc_shift(&mut acc);
            // What is left is 0 or 1: the result is below 2n < 2R.
            self.reduce_once(out, D::acc_low(&acc) != D::ZERO)
        }

        /// Adds column k of a·b: a_i·b_(k-i) for lo <= i <= hi, where
        /// b_(k-i) is word L - 1 - k + i of b reversed. When `SQUARE`
        /// (b = a), each pair i < k - i is computed once and doubled, and
        /// a_(k/2)² is added for an even k.
        #[inline(always)]
        #[expect(
            clippy::indexing_slicing,
            reason = "column bounds of an L-word product; the invariants are below"
        )]
        fn column<const SQUARE: bool>(
            acc: &mut D::Acc,
            a: &[D; L],
            b_reversed: &[D; L],
            k: usize,
            lo: usize,
            hi: usize,
        ) {
            // INVARIANT: lo <= hi < L and k <= L - 1 + lo (lo is 0 for
            // k < L, else k + 1 - L), so every range below is in bounds.
            let start = L - 1 + lo - k;
            if SQUARE {
                // Pairs i < k - i: i from lo to half - 1 (half <= hi + 1,
                // as i <= k - i - 1 keeps k - i in the column).
                let half = k.div_ceil(2).max(lo);
                let mut cross = D::ACC_ZERO;
                dot(
                    &mut cross,
                    &a[lo..half],
                    &b_reversed[start..start + half - lo],
                );
                D::acc_double(&mut cross);
                D::acc_add(acc, &cross);
                if k.is_multiple_of(2) {
                    // INVARIANT: k <= 2L - 2, so k / 2 < L.
                    let x = a[k / 2];
                    D::mac(acc, x, x);
                }
            } else {
                dot(acc, &a[lo..=hi], &b_reversed[start..=start + hi - lo]);
            }
        }
    }

    /// `acc += Σ x_i · y_i`: the products of one column. Both slices have
    /// the same length and ascend. Two products per step, into two sums
    /// that are added at the end: each multiply-add then compiles to a
    /// multiply and an add-with-carry chain of its own (one sum merges
    /// consecutive carries into longer code), and the loop's own work is
    /// shared by two products.
    #[inline(always)]
    fn dot<D: Digit>(acc: &mut D::Acc, x: &[D], y: &[D]) {
        let mut odd = D::ACC_ZERO;
        let (mut x2, mut y2) = (x.chunks_exact(2), y.chunks_exact(2));
        for (xs, ys) in (&mut x2).zip(&mut y2) {
            if let ([x0, x1], [y0, y1]) = (xs, ys) {
                D::mac(acc, *x0, *y0);
                D::mac(&mut odd, *x1, *y1);
            }
        }
        for (&xi, &yi) in x2.remainder().iter().zip(y2.remainder()) {
            D::mac(acc, xi, yi);
        }
        D::acc_add(acc, &odd);
    }

    /// The words of `x` in reverse order.
    #[inline(always)]
    fn reversed<D: Digit, const L: usize>(x: &[D; L]) -> [D; L] {
        let mut out = *x;
        out.reverse();
        out
    }

    /// -x⁻¹ mod 2^w for an odd x, by Newton's iteration: y ← y·(2 - x·y)
    /// doubles the number of correct low bits, and y = x is right to 3 bits
    /// (x·x ≡ 1 mod 8 for odd x).
    pub(super) fn neg_inverse<D: Digit>(x: D) -> D {
        let two = D::ONE.double_carry(false).0;
        let mut y = x;
        let mut correct = 3;
        while correct < D::BITS {
            y = y.wrapping_mul(two.sub_borrow(x.wrapping_mul(y), false).0);
            correct *= 2;
        }
        D::ZERO.sub_borrow(y, false).0
    }

    /// The number of significant bits of `x`.
    fn bit_length<D: Digit, const L: usize>(x: &[D; L]) -> u64 {
        let mut bits = L as u64 * u64::from(D::BITS);
        for word in x.iter().rev() {
            if *word != D::ZERO {
                return bits - u64::from(word.leading_zeros());
            }
            bits -= u64::from(D::BITS);
        }
        0
    }

    /// 2^bit as an integer of `L` words (zero if `bit` is beyond them).
    fn power_of_two<D: Digit, const L: usize>(bit: u64) -> [D; L] {
        let mut x = [D::ZERO; L];
        let word = usize::try_from(bit / u64::from(D::BITS)).ok();
        if let Some(slot) = word.and_then(|i| x.get_mut(i)) {
            // The remainder is below w (at most 64), so the cast is exact.
            *slot = D::bit((bit % u64::from(D::BITS)) as u32);
        }
        x
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use crypto_bigint::{BoxedUint, NonZero};

    use super::monty::{self, Digit, Modulus};
    use super::*;

    /// EMSA-PKCS1-v1_5 encoding with SHA-256 of `message` to `len` bytes,
    /// built the plain way, as the reference for the in-place comparison.
    fn encoded_message(message: &[u8], len: usize) -> Vec<u8> {
        let hash = Sha256::digest(message);
        let padding = len - 3 - SHA256_DIGEST_INFO.len() - hash.len();
        let mut em = vec![0x00, 0x01];
        em.resize(2 + padding, 0xff);
        em.push(0x00);
        em.extend_from_slice(&SHA256_DIGEST_INFO);
        em.extend_from_slice(&hash);
        em
    }

    /// A deterministic stream of bytes (xorshift64*), for test operands.
    struct Bytes(u64);

    impl Bytes {
        fn take(&mut self, len: usize) -> Vec<u8> {
            (0..len)
                .map(|_| {
                    self.0 ^= self.0 >> 12;
                    self.0 ^= self.0 << 25;
                    self.0 ^= self.0 >> 27;
                    (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
                })
                .collect()
        }
    }

    /// A vector case: name, modulus, canonical message, signature.
    type Case = (String, Vec<u8>, Vec<u8>, Vec<u8>);

    /// The cases of `docs/vectors/valid.json`.
    fn vector_cases() -> Vec<Case> {
        let path = format!("{}/../docs/vectors/valid.json", env!("CARGO_MANIFEST_DIR"));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let unhex = |text: &str| -> Vec<u8> {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                .collect()
        };
        doc["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|case| {
                let key =
                    crate::PublicKey::from_pem(case["public_key_pem"].as_str().unwrap()).unwrap();
                // The RSA cases only: P-256 keys have no modulus.
                Some((
                    case["name"].as_str().unwrap().to_owned(),
                    key.modulus().ok()?,
                    unhex(case["canonical_hex"].as_str().unwrap()),
                    unhex(case["signature_hex"].as_str().unwrap()),
                ))
            })
            .collect()
    }

    /// The independent reference: plain integers of crypto-bigint.
    fn big(bytes: &[u8]) -> BoxedUint {
        BoxedUint::from_be_slice_vartime(bytes)
    }

    /// `x` as big-endian bytes without leading zeros.
    fn bytes_of<D: Digit, const L: usize>(x: &[D; L]) -> Vec<u8> {
        let mut out = [0; MAX_LEN];
        let written = monty::to_be_bytes(x, &mut out).unwrap();
        let first = written
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(written.len());
        written[first..].to_vec()
    }

    /// The reference value of `x` mod `n`, as bytes without leading zeros.
    fn reduced(x: &BoxedUint, n: &[u8]) -> Vec<u8> {
        let n = NonZero::new(big(n)).unwrap();
        let bytes = x.rem_vartime(&n).to_be_bytes();
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        bytes[first..].to_vec()
    }

    /// Checks the Montgomery constants, products, squares and s^65537 of a
    /// modulus in `L` words of `D` against plain arithmetic, on edge
    /// operands and pseudo-random ones.
    fn check_arithmetic<D: Digit, const L: usize>(n_bytes: &[u8], seed: u64) {
        let n: [D; L] = monty::from_be_bytes(n_bytes).unwrap();
        let modulus = Modulus::new(&n).unwrap();
        let big_n = big(n_bytes);
        let nz = NonZero::new(big_n.clone()).unwrap();
        let mut rng = Bytes(seed);
        let one = [1];
        let n_minus_1 = big_n.wrapping_sub(BoxedUint::one()).to_be_bytes();
        let mut operands: Vec<Vec<u8>> = vec![vec![0], one.to_vec(), n_minus_1.to_vec()];
        for _ in 0..6 {
            // Below n: reduce a random value of the modulus's length.
            let x = big(&rng.take(n_bytes.len())).rem_vartime(&nz);
            operands.push(x.to_be_bytes().to_vec());
        }
        // The reference's bytes have whole 64-bit limbs: drop leading zeros.
        let words = |bytes: &[u8]| -> [D; L] {
            let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
            monty::from_be_bytes(&bytes[first..]).unwrap()
        };
        for a in &operands {
            for b in &operands {
                // mul(mul(a, b), R²) = a·b·R⁻¹·R²·R⁻¹ = a·b mod n.
                let product = modulus.mul(&modulus.mul(&words(a), &words(b)), modulus.r2());
                let expected = big(a).mul_mod(&big(b), &nz);
                assert_eq!(
                    bytes_of(&product),
                    reduced(&expected, n_bytes),
                    "{a:02x?} * {b:02x?}"
                );
            }
            let square = modulus.mul(&modulus.square(&words(a)), modulus.r2());
            let expected = big(a).mul_mod(&big(a), &nz);
            assert_eq!(bytes_of(&square), reduced(&expected, n_bytes), "{a:02x?}²");

            let mut expected = big(a);
            for _ in 0..16 {
                expected = expected.mul_mod(&expected, &nz);
            }
            let expected = expected.mul_mod(&big(a), &nz);
            let got = modulus.pow_65537(&words(a)).unwrap();
            assert_eq!(
                bytes_of(&got),
                reduced(&expected, n_bytes),
                "{a:02x?}^65537"
            );
        }
        // R² mod n, from 2^(2·L·w) mod n.
        let mut r2 = vec![0u8; 2 * L * D::BYTES + 1];
        r2[0] = 1;
        assert_eq!(bytes_of(modulus.r2()), reduced(&big(&r2), n_bytes));
    }

    /// A pseudo-random odd modulus of exactly `bits` bits.
    fn odd_modulus(bits: usize, seed: u64) -> Vec<u8> {
        let mut n = Bytes(seed).take(bits.div_ceil(8));
        let top = (bits - 1) % 8;
        n[0] &= (1u16 << (top + 1)).wrapping_sub(1) as u8;
        n[0] |= 1 << top;
        *n.last_mut().unwrap() |= 1;
        n
    }

    #[test]
    fn montgomery_arithmetic_matches_plain_arithmetic() {
        // Full size classes, both words.
        check_arithmetic::<u64, WORDS_2048_64>(&odd_modulus(2048, 1), 11);
        check_arithmetic::<u32, 64>(&odd_modulus(2048, 2), 12);
        check_arithmetic::<u64, 48>(&odd_modulus(3072, 3), 13);
        check_arithmetic::<u64, 64>(&odd_modulus(4096, 4), 14);
        check_arithmetic::<u32, 128>(&odd_modulus(4096, 5), 15);
        // A smaller modulus in a larger class: 2049 bits in 3072, 2048 in
        // 4096, a single word in two.
        check_arithmetic::<u64, 48>(&odd_modulus(2049, 6), 16);
        check_arithmetic::<u32, 96>(&odd_modulus(2049, 7), 17);
        check_arithmetic::<u64, 64>(&odd_modulus(2048, 8), 18);
        check_arithmetic::<u64, 2>(&odd_modulus(61, 9), 19);
        // Tiny classes, where every column bound is an edge.
        check_arithmetic::<u64, 1>(&odd_modulus(64, 10), 20);
        check_arithmetic::<u32, 1>(&odd_modulus(17, 11), 21);
        check_arithmetic::<u32, 3>(&odd_modulus(96, 12), 22);
        check_arithmetic::<u32, 5>(&odd_modulus(150, 13), 23);
        // The largest modulus of a class: every word all ones.
        check_arithmetic::<u64, 4>(&[0xff; 32], 24);
        check_arithmetic::<u32, 8>(&[0xff; 32], 25);
    }

    /// Words of a 2048-bit integer with 64-bit words, whatever the target.
    const WORDS_2048_64: usize = 32;

    #[test]
    fn exponentiation_edges() {
        let n_bytes = odd_modulus(2048, 31);
        let n: [u64; WORDS_2048_64] = monty::from_be_bytes(&n_bytes).unwrap();
        let modulus = Modulus::new(&n).unwrap();
        let words = |bytes: &[u8]| -> [u64; WORDS_2048_64] { monty::from_be_bytes(bytes).unwrap() };
        // 0 and 1 are fixed points, and n - 1 = -1 has an odd power -1.
        assert_eq!(modulus.pow_65537(&words(&[0])), Some(words(&[0])));
        assert_eq!(modulus.pow_65537(&words(&[1])), Some(words(&[1])));
        let n_minus_1 = big(&n_bytes).wrapping_sub(BoxedUint::one()).to_be_bytes();
        assert_eq!(
            modulus.pow_65537(&words(&n_minus_1)),
            Some(words(&n_minus_1))
        );
        // s >= n is refused: n, n + 1, the largest value of the class.
        let n_plus_1 = big(&n_bytes).wrapping_add(BoxedUint::one()).to_be_bytes();
        assert_eq!(modulus.pow_65537(&n), None);
        assert_eq!(modulus.pow_65537(&words(&n_plus_1)), None);
        assert_eq!(modulus.pow_65537(&[u64::MAX; WORDS_2048_64]), None);
    }

    /// Verifies every vector with the size class and word of `D`, `L`.
    fn vectors_verify_with<D: Digit, const L: usize>(min_len: usize, max_len: usize) {
        let mut checked = 0;
        for (name, n, message, signature) in vector_cases() {
            if n.len() < min_len || n.len() > max_len {
                continue;
            }
            let modulus = Modulus::<D, L>::new(&monty::from_be_bytes(&n).unwrap()).unwrap();
            let hash: [u8; 32] = Sha256::digest(&message).into();
            assert!(verify_in(&modulus, &signature, &hash), "{name}");
            let mut flipped = signature.clone();
            *flipped.last_mut().unwrap() ^= 1;
            assert!(!verify_in(&modulus, &flipped, &hash), "{name}: flipped bit");
            let other: [u8; 32] = Sha256::digest(b"another message").into();
            assert!(
                !verify_in(&modulus, &signature, &other),
                "{name}: other message"
            );
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn vectors_verify_with_both_words_and_in_larger_classes() {
        vectors_verify_with::<u64, 32>(256, 256);
        vectors_verify_with::<u32, 64>(256, 256);
        vectors_verify_with::<u64, 48>(257, 384);
        vectors_verify_with::<u32, 96>(257, 384);
        vectors_verify_with::<u64, 64>(256, 512);
        vectors_verify_with::<u32, 128>(256, 512);
    }

    #[test]
    fn the_2049_bit_vector_is_in_the_3072_bit_class_and_verifies() {
        let (_, n, message, signature) = vector_cases()
            .into_iter()
            .find(|(name, ..)| name == "rsa2049")
            .unwrap();
        let key = VerifyingKey::new(&n).unwrap();
        assert!(matches!(key.class, Class::Up3072(_)));
        assert!(key.verify(&message, &signature));
        // k is 257 bytes: a 256-byte signature is refused before any
        // arithmetic, and so is one with a zero byte in front.
        assert!(!key.verify(&message, &signature[1..]));
        let mut longer = vec![0];
        longer.extend_from_slice(&signature);
        assert!(!key.verify(&message, &longer));
    }

    #[test]
    fn signature_edges_are_refused() {
        for (name, n, message, signature) in vector_cases() {
            let key = VerifyingKey::new(&n).unwrap();
            let k = n.len();
            assert!(key.verify(&message, &signature), "{name}");
            let n_minus_1 = big(&n).wrapping_sub(BoxedUint::one()).to_be_bytes();
            let n_plus_1 = big(&n).wrapping_add(BoxedUint::one()).to_be_bytes();
            let mut one = vec![0; k];
            one[k - 1] = 1;
            for (what, s) in [
                ("s = 0", vec![0; k]),
                ("s = 1", one),
                ("s = n - 1", n_minus_1[n_minus_1.len() - k..].to_vec()),
                ("s = n", n.clone()),
                ("s = n + 1", n_plus_1[n_plus_1.len() - k..].to_vec()),
                ("s = 256^k - 1", vec![0xff; k]),
                ("empty", vec![]),
            ] {
                assert!(!key.verify(&message, &s), "{name}: {what}");
            }
        }
    }

    #[test]
    fn even_zero_one_and_oversized_moduli_are_refused() {
        assert!(VerifyingKey::new(&[0x80, 0, 0, 2]).is_none());
        assert!(VerifyingKey::new(&[]).is_none());
        assert!(VerifyingKey::new(&[0; 256]).is_none());
        assert!(VerifyingKey::new(&[0x80, 0, 0, 3]).is_some());
        // 1 is odd but has no residues to verify with.
        assert!(VerifyingKey::new(&[1]).is_none());
        assert!(VerifyingKey::new(&[0, 0, 1]).is_none());
        assert!(VerifyingKey::new(&[3]).is_some());
        let mut oversized = vec![0xff; MAX_LEN + 1];
        assert!(VerifyingKey::new(&oversized).is_none());
        oversized.truncate(MAX_LEN);
        assert!(VerifyingKey::new(&oversized).is_some());
    }

    #[test]
    fn exponentiation_matches_a_small_worked_example() {
        // n = 3233 = 61 · 53; 65^65537 mod 3233 computed independently by
        // square-and-multiply: 65^(2^16) · 65 mod 3233.
        let mut expected: u64 = 65;
        for _ in 0..16 {
            expected = expected * expected % 3233;
        }
        expected = expected * 65 % 3233;
        for got in [
            Modulus::<u64, 1>::new(&[3233])
                .unwrap()
                .pow_65537(&[65])
                .unwrap()[0],
            u64::from(
                Modulus::<u32, 1>::new(&[3233])
                    .unwrap()
                    .pow_65537(&[65])
                    .unwrap()[0],
            ),
            Modulus::<u64, 32>::new(&monty::from_be_bytes(&3233u16.to_be_bytes()).unwrap())
                .unwrap()
                .pow_65537(&monty::from_be_bytes(&[65]).unwrap())
                .unwrap()[0],
        ] {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn bytes_convert_to_words_and_back() {
        let bytes: Vec<u8> = (1..=20).collect();
        let words: [u32; 6] = monty::from_be_bytes(&bytes).unwrap();
        assert_eq!(words[0], 0x1112_1314);
        assert_eq!(words[4], 0x0102_0304);
        assert_eq!(words[5], 0);
        assert_eq!(bytes_of(&words), bytes);
        let words: [u64; 3] = monty::from_be_bytes(&bytes).unwrap();
        assert_eq!(words[0], 0x0d0e_0f10_1112_1314);
        assert_eq!(words[2], 0x0102_0304);
        assert!(monty::from_be_bytes::<u64, 2>(&bytes).is_none());
        assert!(monty::to_be_bytes(&words, &mut [0; 23]).is_none());
    }

    #[test]
    fn the_in_place_comparison_accepts_exactly_the_encoded_message() {
        let hash: [u8; 32] = Sha256::digest(b"abc").into();
        for len in [62, 256, 257, 384, 512] {
            let em = encoded_message(b"abc", len);
            // As the arithmetic writes it: in a buffer of whole words.
            let accepts = |bytes: &[u8]| {
                let mut buffer = vec![0; 512 - bytes.len()];
                buffer.extend_from_slice(bytes);
                is_encoded_message(&buffer, len, &hash)
            };
            assert!(accepts(&em), "{len}");
            for i in 0..len {
                for bit in [0x01, 0x80] {
                    let mut bad = em.clone();
                    bad[i] ^= bit;
                    assert!(!accepts(&bad), "{len}: byte {i}");
                }
            }
            if len < 512 {
                // A byte above k set: not an encoding of length k.
                let mut longer = vec![0x01];
                longer.extend_from_slice(&em);
                assert!(!accepts(&longer), "{len}");
            }
        }
        // Fewer than 8 bytes of padding: k < 62 is never an encoding.
        let short = encoded_message(b"abc", 62);
        assert!(!is_encoded_message(&short[1..], 61, &hash));
    }

    #[test]
    fn negative_inverses_hold() {
        for x in [1u64, 3, 0xffff_ffff_ffff_ffff, 0x8000_0000_0000_0001, 12345] {
            assert_eq!(x.wrapping_mul(monty::neg_inverse(x)), u64::MAX, "{x}");
            let x = x as u32 | 1;
            assert_eq!(x.wrapping_mul(monty::neg_inverse(x)), u32::MAX, "{x}");
        }
    }
}
