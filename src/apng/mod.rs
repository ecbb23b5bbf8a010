//! Animated PNG: many frames in one file, written from frames encoded in
//! parallel, and read back as full frames.
//!
//! Writing: each frame is encoded on its own by `encode_png` (so the batch
//! pool compresses frames in parallel: every APNG frame's data is an
//! independent zlib stream). The `Assembler` sink then takes the zlib stream
//! out of each PNG's IDAT chunks and writes it, in frame order, through the
//! png crate's chunk writer: as IDAT for frame 0 (the default image, which
//! viewers without APNG support show) and as fdAT for later frames, each
//! after an fcTL. Frames are full-size, dispose NONE, blend SOURCE. The file
//! is streamed into an `AtomicFile`; the acTL frame count, unknown while a
//! generator is running, is patched by seeking back before the rename.
//!
//! Reading: `decode_animation` decodes every frame with the png crate and
//! composites sub-rectangles (dispose and blend operations) onto the canvas,
//! so third-party APNGs come back as full frames, as a viewer shows them.

mod read;
mod write;

pub use read::{decode_animation, read_animation, Animation};
pub use write::{AnimationOutput, Assembler, Destination};

use crate::error::value_error;
use anyhow::Result;

/// APNG stores a delay as the fraction num/den seconds of two u16.
const MAX_U16: u64 = u16::MAX as u64;

/// A frame delay as APNG stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub num: u16,
    pub den: u16,
}

impl Delay {
    /// The closest num/den (both at most 65535) to `seconds`; `what` names
    /// the argument in errors.
    pub fn from_seconds(seconds: f64, what: &str) -> Result<Delay> {
        if !seconds.is_finite() || !(0.0..=MAX_U16 as f64).contains(&seconds) {
            return Err(value_error(format!(
                "{what} must be a number of seconds from 0 to 65535, got {seconds}"
            )));
        }
        let (num, den) = if seconds <= 1.0 {
            best_rational(seconds, MAX_U16)
        } else {
            // num is the larger term: approximate the inverse, whose bound is num's.
            let (p, q) = best_rational(1.0 / seconds, MAX_U16);
            (q, p)
        };
        Ok(Delay {
            num: num as u16,
            den: den.max(1) as u16,
        })
    }

    /// One frame's delay at `fps` frames per second.
    pub fn from_fps(fps: f64) -> Result<Delay> {
        if !fps.is_finite() || fps <= 0.0 {
            return Err(value_error(format!(
                "fps must be a positive number of frames per second, got {fps}"
            )));
        }
        Delay::from_seconds(1.0 / fps, "1/fps")
            .map_err(|_| value_error(format!("fps must be at least 1/65535, got {fps}")))
    }

    /// The delay in seconds; APNG reads a denominator of 0 as 100.
    pub fn seconds(self) -> f64 {
        let den = if self.den == 0 { 100 } else { self.den };
        f64::from(self.num) / f64::from(den)
    }
}

/// The best approximation p/q of `x` (0 <= x <= 1) with q <= bound, from
/// its continued fraction (convergents, then the best semiconvergent).
fn best_rational(x: f64, bound: u64) -> (u64, u64) {
    let (mut p0, mut q0, mut p1, mut q1) = (0u64, 1u64, 1u64, 0u64);
    let mut rest = x;
    loop {
        let a = rest.floor();
        if a > bound as f64 {
            break; // the remainder is negligible at this bound
        }
        let a = a as u64;
        let q2 = a * q1 + q0;
        if q2 > bound {
            let k = (bound - q0) / q1;
            let (ps, qs) = (p0 + k * p1, q0 + k * q1);
            let error = |p: u64, q: u64| (x - p as f64 / q as f64).abs();
            return if error(ps, qs) < error(p1, q1) {
                (ps, qs)
            } else {
                (p1, q1)
            };
        }
        (p0, q0, p1, q1) = (p1, q1, a * p1 + p0, q2);
        let fraction = rest - a as f64;
        if fraction < 1e-12 {
            break;
        }
        rest = 1.0 / fraction;
    }
    (p1, q1)
}

/// Frame delays: one for all frames, or one each.
#[derive(Debug, Clone)]
pub enum Delays {
    Every(Delay),
    Each(Vec<Delay>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delay(seconds: f64) -> (u16, u16) {
        let d = Delay::from_seconds(seconds, "t").unwrap();
        (d.num, d.den)
    }

    #[test]
    fn delays_are_exact_or_the_closest_u16_fraction() {
        assert_eq!(delay(0.04), (1, 25));
        assert_eq!(delay(0.0), (0, 1));
        assert_eq!(delay(1.5), (3, 2));
        assert_eq!(delay(1.0 / 3.0), (1, 3));
        assert_eq!(delay(65535.0), (65535, 1));
        assert_eq!(delay(1001.0 / 30000.0), (1001, 30000));
        let ntsc = Delay::from_fps(29.97).unwrap();
        assert_eq!((ntsc.num, ntsc.den), (100, 2997));
        // No exact fraction: the best one with u16 terms, as Python's
        // Fraction(x).limit_denominator(65535) finds it.
        assert_eq!(delay(std::f64::consts::PI / 10.0), (71, 226));
        // Above a second the numerator is the bound: 1/x's best fraction, inverted.
        assert_eq!(delay(1000.0 * std::f64::consts::E), (19028, 7));
        for bad in [-0.1, 65536.0, f64::NAN, f64::INFINITY] {
            assert!(Delay::from_seconds(bad, "t").is_err(), "{bad}");
        }
        for bad in [0.0, -25.0, f64::NAN, 1e-6] {
            assert!(Delay::from_fps(bad).is_err(), "{bad}");
        }
        assert_eq!(Delay { num: 7, den: 0 }.seconds(), 0.07);
    }
}
