//! Real image files for tests and benchmarks, made in code: valid PNGs any viewer opens (stored,
//! uncompressed deflate, so their size is predictable), plus the impostors uploads must refuse.

/// A valid RGB PNG of `width` × `height` filled with `rgb`, with a diagonal stripe so thumbnails of
/// different images look different. Its size is about `width * height * 3` bytes.
pub fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let row_len = width as usize * 3 + 1;
    let mut raw = Vec::with_capacity(row_len * height as usize);
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            let stripe = (x + y) % 97 < 12;
            raw.extend_from_slice(if stripe { &[255, 255, 255] } else { &rgb });
        }
    }
    let mut out = png_header(width, height);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A PNG of about `bytes` bytes (a square-ish image of that much pixel data).
pub fn png_of_size(bytes: usize, rgb: [u8; 3]) -> Vec<u8> {
    let width = 1024u32;
    let height = (bytes / (width as usize * 3)).max(1) as u32;
    png(width, height, rgb)
}

/// The first 33 bytes of a PNG claiming `width` × `height` pixels (signature and header chunk, no
/// pixel data): enough for a size to be read, and for a browser to try to allocate it.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    out
}

/// An HTML page saved as `.png`.
pub const HTML_AS_PNG: &[u8] =
    b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";

/// An SVG with a script: an image to a browser, but one that runs code.
pub const SVG: &[u8] =
    b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><rect width=\"10\" height=\"10\"/></svg>";

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_checksums_are_right() {
        // The IEND chunk's CRC is a well-known constant.
        let image = png(2, 2, [1, 2, 3]);
        assert!(image.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
