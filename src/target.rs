//! `out=`: checking that a buffer the caller owns has room for exactly the
//! frame a file decodes to, before anything is written into it.
//!
//! A target is described like a source (`BufferDesc`) and planned with the
//! same rules (`plan_source`), then must match the decoded layout exactly:
//! no conversion of size, channel count or sample type happens on the way
//! in. One extra form is accepted: a flat byte buffer (bytearray, mmap,
//! shared memory) of exactly the frame's size, which receives the bytes
//! `Frame.tobytes()` would give.

use crate::error::value_error;
use crate::layout::{
    fmt_shape, plan_source, BufferDesc, Endian, Geometry, ImageLayout, SourcePlan,
};
use anyhow::Result;

/// The plan for writing a frame of `layout` into the buffer `desc`
/// describes, or a ValueError naming both shapes. `what` names the source
/// in the message ("the file", "paths[3]").
pub fn plan_target(desc: &BufferDesc, layout: &ImageLayout, what: &str) -> Result<SourcePlan> {
    let flat_bytes = desc.shape.len() == 1 && desc.itemsize == 1 && desc.format == "B";
    if flat_bytes {
        if desc.shape[0] as usize == layout.byte_len() && desc.strides[0] == 1 {
            return Ok(SourcePlan::packed(*layout, Endian::NATIVE));
        }
    } else if let Ok(plan) = plan_source(
        desc,
        &Geometry {
            width: Some(layout.width.into()),
            height: Some(layout.height.into()),
            channels: Some(layout.channels.into()),
            stride: None,
        },
    ) {
        if plan.layout == *layout {
            return Ok(plan);
        }
    }
    Err(value_error(format!(
        "out has shape {} and format '{}' (itemsize {}), but {what} decodes to shape {} of {}: pass out=np.empty({}, np.{}) or a flat byte buffer of exactly {} bytes",
        fmt_shape(desc.shape),
        desc.format,
        desc.itemsize,
        fmt_shape(&frame_shape(layout)),
        dtype_name(layout),
        fmt_shape(&frame_shape(layout)),
        dtype_name(layout),
        layout.byte_len(),
    )))
}

/// numpy's shape for a frame: (h, w) for gray, else (h, w, c).
pub fn frame_shape(layout: &ImageLayout) -> Vec<isize> {
    let mut shape = vec![layout.height as isize, layout.width as isize];
    if layout.channels > 1 {
        shape.push(layout.channels.into());
    }
    shape
}

/// numpy's name for a frame's sample type.
pub fn dtype_name(layout: &ImageLayout) -> &'static str {
    match layout.depth {
        crate::layout::Depth::Eight => "uint8",
        crate::layout::Depth::Sixteen => "uint16",
    }
}

/// Where the items of a batch target `out` of shape (count, ...) lie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTarget {
    /// One item's shape and strides.
    pub shape: Vec<isize>,
    pub strides: Vec<isize>,
    /// Bytes from one item's first sample to the next one's.
    pub step: isize,
}

impl BatchTarget {
    /// Splits `desc` into `count` items: along its first axis, or for a
    /// flat byte buffer into `count` equal runs.
    pub fn new(desc: &BufferDesc, count: usize) -> Result<BatchTarget> {
        let refuse = |why: String| {
            value_error(format!(
                "out must hold one frame per path, shape ({count}, height, width[, channels]), or be a flat byte buffer of {count} equal frames; got {why}"
            ))
        };
        match *desc.shape {
            [len] if desc.itemsize == 1 && desc.format == "B" => {
                let len = len as usize;
                if count == 0 || len % count != 0 {
                    return Err(refuse(format!("{len} bytes")));
                }
                let item = (len / count) as isize;
                Ok(BatchTarget {
                    shape: vec![item],
                    strides: desc.strides.to_vec(),
                    step: item * desc.strides[0],
                })
            }
            [n, ..] if n as usize == count && desc.shape.len() >= 3 => Ok(BatchTarget {
                shape: desc.shape[1..].to_vec(),
                strides: desc.strides[1..].to_vec(),
                step: desc.strides[0],
            }),
            _ => Err(refuse(format!("shape {}", fmt_shape(desc.shape)))),
        }
    }

    /// The description of one item (all items share it).
    pub fn item<'a>(&'a self, desc: &BufferDesc<'a>) -> BufferDesc<'a> {
        BufferDesc {
            itemsize: desc.itemsize,
            format: desc.format,
            shape: &self.shape,
            strides: &self.strides,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Depth;
    use crate::pixels::{ChannelOrder, Frame, PixelFormat};

    const LAYOUT: ImageLayout = ImageLayout {
        width: 2,
        height: 2,
        channels: 3,
        depth: Depth::Eight,
    };

    fn desc<'a>(
        format: &'a str,
        itemsize: usize,
        shape: &'a [isize],
        strides: &'a [isize],
    ) -> BufferDesc<'a> {
        BufferDesc {
            itemsize,
            format,
            shape,
            strides,
        }
    }

    fn frame() -> Frame {
        Frame {
            layout: LAYOUT,
            format: PixelFormat {
                order: ChannelOrder::Bgr,
                endian: Endian::NATIVE,
            },
            data: (1..=12).collect(),
        }
    }

    #[test]
    fn channel_last_slice_of_a_wider_array_is_filled_in_place() {
        // out = big[:, :, 1:4] of a (2, 2, 5) array: pixels 5 bytes apart.
        let plan =
            plan_target(&desc("B", 1, &[2, 2, 3], &[10, 5, 1]), &LAYOUT, "the file").unwrap();
        let mut memory = [0u8; 20];
        frame().copy_into(&plan, &mut memory, 1).unwrap();
        assert_eq!(
            memory,
            [0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 7, 8, 9, 0, 0, 10, 11, 12, 0]
        );
    }

    #[test]
    fn fortran_order_is_honoured() {
        let plan = plan_target(&desc("B", 1, &[2, 2, 3], &[1, 2, 4]), &LAYOUT, "the file").unwrap();
        let mut memory = [0u8; 12];
        frame().copy_into(&plan, &mut memory, 0).unwrap();
        // Sample (y, x, c) of value 1 + 6y + 3x + c lands at y + 2x + 4c.
        assert_eq!(memory, [1, 7, 4, 10, 2, 8, 5, 11, 3, 9, 6, 12]);
    }

    #[test]
    fn a_flat_byte_buffer_receives_the_packed_bytes() {
        let plan = plan_target(&desc("B", 1, &[12], &[1]), &LAYOUT, "the file").unwrap();
        let mut memory = [0u8; 12];
        frame().copy_into(&plan, &mut memory, 0).unwrap();
        assert_eq!(memory.to_vec(), frame().data);
    }

    #[test]
    fn a_mismatch_names_both_shapes() {
        for (format, itemsize, shape, strides) in [
            ("B", 1, &[2, 3, 3][..], &[9, 3, 1][..]),
            ("H", 2, &[2, 2, 3], &[12, 6, 2]),
            ("B", 1, &[2, 2, 4], &[8, 4, 1]),
            ("B", 1, &[13], &[1]),
        ] {
            let err = plan_target(&desc(format, itemsize, shape, strides), &LAYOUT, "x.png")
                .unwrap_err()
                .to_string();
            assert!(err.contains(&fmt_shape(shape)), "{err}");
            assert!(
                err.contains("x.png decodes to shape (2, 2, 3) of uint8"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_plan_outside_the_memory_writes_nothing() {
        let plan = plan_target(&desc("B", 1, &[2, 2, 3], &[6, 3, 1]), &LAYOUT, "f").unwrap();
        let mut memory = [0u8; 11];
        assert!(frame().copy_into(&plan, &mut memory, 0).is_err());
        assert_eq!(memory, [0; 11]);
    }

    #[test]
    fn big_endian_16_bit_targets_get_swapped_samples() {
        let layout = ImageLayout {
            width: 1,
            height: 1,
            channels: 1,
            depth: Depth::Sixteen,
        };
        let frame = Frame {
            layout,
            format: PixelFormat {
                order: ChannelOrder::Bgr,
                endian: Endian::Little,
            },
            data: vec![0x34, 0x12],
        };
        let plan = plan_target(&desc(">H", 2, &[1, 1], &[2, 2]), &layout, "f").unwrap();
        let mut memory = [0u8; 2];
        frame.copy_into(&plan, &mut memory, 0).unwrap();
        assert_eq!(memory, [0x12, 0x34]);
    }

    #[test]
    fn batches_split_along_the_first_axis_or_into_equal_runs() {
        let d = desc("B", 1, &[4, 2, 2, 3], &[12, 6, 3, 1]);
        let batch = BatchTarget::new(&d, 4).unwrap();
        assert_eq!((batch.shape.clone(), batch.step), (vec![2, 2, 3], 12));
        assert!(plan_target(&batch.item(&d), &LAYOUT, "f").is_ok());
        assert!(BatchTarget::new(&d, 3).is_err());
        let flat = desc("B", 1, &[48], &[1]);
        let batch = BatchTarget::new(&flat, 4).unwrap();
        assert_eq!((batch.shape.clone(), batch.step), (vec![12], 12));
        assert!(BatchTarget::new(&flat, 5).is_err());
        assert!(BatchTarget::new(&flat, 0).is_err());
    }
}
