//! Notes and their images as the UI sends and receives them.

use crate::ApiError;
use crate::ids::{NoteId, NoteImageId, ProjectId};
use serde::{Deserialize, Serialize};

/// What the note editor sends: raw text, parsed by [`NoteForm::parse`] on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NoteForm {
    /// Title.
    pub title: String,
    /// Markdown body.
    pub body: String,
}

/// A note form that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidNote {
    /// Title, trimmed, never empty.
    pub title: String,
    /// Markdown body (kept as typed, apart from trailing whitespace).
    pub body: String,
}

impl NoteForm {
    /// Longest title accepted.
    pub const MAX_TITLE_CHARS: usize = 200;
    /// Longest body accepted (a long design note, not a dump of a repository).
    pub const MAX_BODY_CHARS: usize = 100_000;

    /// Checks every field; the first problem found is returned.
    pub fn parse(&self) -> Result<ValidNote, ApiError> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(ApiError::invalid("title", "is required"));
        }
        if title.chars().count() > Self::MAX_TITLE_CHARS {
            return Err(ApiError::invalid(
                "title",
                format!("must be at most {} characters", Self::MAX_TITLE_CHARS),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(ApiError::invalid("title", "must be a single line"));
        }
        let body = self.body.trim_end();
        if body.chars().count() > Self::MAX_BODY_CHARS {
            return Err(ApiError::invalid(
                "body",
                format!("must be at most {} characters", Self::MAX_BODY_CHARS),
            ));
        }
        Ok(ValidNote {
            title: title.to_owned(),
            body: body.to_owned(),
        })
    }
}

/// An image's caption: one line or a short paragraph, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageCaption(String);

impl ImageCaption {
    /// Longest caption accepted.
    pub const MAX_CHARS: usize = 500;

    /// Parses a caption typed by a person; empty clears it.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let caption = text.trim();
        if caption.chars().count() > Self::MAX_CHARS {
            return Err(ApiError::invalid(
                "description",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if caption.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiError::invalid(
                "description",
                "must not contain control characters",
            ));
        }
        Ok(Self(caption.to_owned()))
    }

    /// The caption.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ImageCaption {
    type Error = ApiError;
    fn try_from(text: String) -> Result<Self, ApiError> {
        Self::parse(&text)
    }
}

impl From<ImageCaption> for String {
    fn from(caption: ImageCaption) -> String {
        caption.0
    }
}

/// An image attached to a note, in its place in the note's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteImage {
    /// Id; the image itself is at [`NoteImage::url`].
    pub id: NoteImageId,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`, read from the bytes.
    pub content_type: String,
    /// Size in bytes.
    pub byte_size: i64,
    /// Width in pixels, read from the bytes.
    pub width: i32,
    /// Height in pixels, read from the bytes.
    pub height: i32,
    /// Caption.
    pub description: String,
    /// Position in the note, from 0.
    pub sort_order: i32,
}

impl NoteImage {
    /// Where the browser fetches the image (authenticated, tenant-checked).
    pub fn url(&self) -> String {
        image_url(self.id)
    }
}

/// Where the browser fetches an image.
pub fn image_url(id: NoteImageId) -> String {
    format!("/api/v1/images/{id}")
}

/// Where the browser uploads an image to a note: `POST` with the file as the body.
pub fn upload_url(note: NoteId) -> String {
    format!("/api/v1/notes/{note}/images")
}

/// A note with its images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Id.
    pub id: NoteId,
    /// The project it belongs to.
    pub project_id: ProjectId,
    /// Title.
    pub title: String,
    /// Markdown source, for editing.
    pub body: String,
    /// The body rendered to HTML by the server and sanitised: no raw HTML, no scripts, no event
    /// handlers, only http(s), mailto and relative links.
    pub body_html: String,
    /// Images in order.
    pub images: Vec<NoteImage>,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
}

/// The limits uploads are checked against, so the browser can refuse early with the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLimits {
    /// Largest image accepted, in bytes.
    pub max_bytes: u64,
    /// Most images on one note.
    pub max_per_note: u32,
    /// Widest image accepted, in pixels.
    pub max_width: u32,
    /// Tallest image accepted, in pixels.
    pub max_height: u32,
    /// Most pixels (width × height) in one image: a small file can claim a size that would take
    /// gigabytes of memory in every browser that shows it.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_per_note: 50,
            max_width: 16_384,
            max_height: 16_384,
            max_pixels: 50_000_000,
        }
    }
}

impl ImageLimits {
    /// The error for a file over the size limit.
    pub fn too_large(&self) -> ApiError {
        ApiError::invalid(
            "file",
            format!("is larger than the {} limit", human_bytes(self.max_bytes)),
        )
    }

    /// The error for one image more than a note may hold.
    pub fn too_many(&self) -> ApiError {
        ApiError::invalid(
            "file",
            format!(
                "this note already has {} images, the most a note can hold",
                self.max_per_note
            ),
        )
    }

    /// The error for an image of `width` × `height` pixels, over the size or pixel limit.
    pub fn too_many_pixels(&self, width: u64, height: u64) -> ApiError {
        let sides = if self.max_width == self.max_height {
            format!("{} pixels a side", self.max_width)
        } else {
            format!(
                "{} pixels wide, {} pixels high",
                self.max_width, self.max_height
            )
        };
        let pixels = if self.max_pixels >= 1_000_000 && self.max_pixels.is_multiple_of(1_000_000) {
            format!("{} megapixels", self.max_pixels / 1_000_000)
        } else {
            format!("{} pixels in all", self.max_pixels)
        };
        ApiError::invalid(
            "file",
            format!("is {width} × {height} pixels; images may be at most {sides} and {pixels}"),
        )
    }
}

/// `ids` with `moving` taken out and put at index `to` of what remains (clamped to the end): the
/// order a drag-and-drop or a "move" button asks for.
pub fn moved(ids: &[NoteImageId], moving: NoteImageId, to: usize) -> Vec<NoteImageId> {
    let mut order: Vec<NoteImageId> = ids.iter().copied().filter(|id| *id != moving).collect();
    if order.len() == ids.len() {
        return order;
    }
    order.insert(to.min(order.len()), moving);
    order
}

/// `10 MiB`, `512 KiB`, `12 B`.
pub fn human_bytes(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        // Tenths by integer arithmetic, rounded half up: no float formatting in the browser bundle.
        let tenths = (u128::from(bytes) * 10 + u128::from(MIB / 2)) / u128::from(MIB);
        format!("{}.{} MiB", tenths / 10, tenths % 10)
    } else if bytes >= KIB {
        format!("{} KiB", bytes.div_ceil(KIB))
    } else {
        format!("{bytes} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_needs_a_single_line_title() {
        let form = |title: &str| NoteForm {
            title: title.into(),
            body: "Body\n\n".into(),
        };
        let valid = form("  Login flow ").parse().unwrap();
        assert_eq!(
            (valid.title.as_str(), valid.body.as_str()),
            ("Login flow", "Body")
        );
        assert_eq!(
            form("  ").parse(),
            Err(ApiError::invalid("title", "is required"))
        );
        assert!(form("a\nb").parse().is_err());
        assert!(form(&"x".repeat(201)).parse().is_err());
    }

    #[test]
    fn captions_are_trimmed_and_bounded() {
        assert_eq!(
            ImageCaption::parse("  The login page ").unwrap().as_str(),
            "The login page"
        );
        assert_eq!(ImageCaption::parse("").unwrap().as_str(), "");
        assert!(ImageCaption::parse(&"x".repeat(501)).is_err());
        assert!(ImageCaption::parse("bell\u{7}").is_err());
        assert!(serde_json::from_str::<ImageCaption>(&format!("\"{}\"", "x".repeat(501))).is_err());
    }

    #[test]
    fn moving_an_image_keeps_every_other_in_place() {
        let ids: Vec<NoteImageId> = (0..4u128)
            .map(|n| NoteImageId::from_uuid(uuid::Uuid::from_u128(n)))
            .collect();
        assert_eq!(moved(&ids, ids[3], 0), [ids[3], ids[0], ids[1], ids[2]]);
        assert_eq!(moved(&ids, ids[0], 2), [ids[1], ids[2], ids[0], ids[3]]);
        assert_eq!(moved(&ids, ids[1], 99), [ids[0], ids[2], ids[3], ids[1]]);
        let stranger = NoteImageId::from_uuid(uuid::Uuid::from_u128(9));
        assert_eq!(
            moved(&ids, stranger, 0),
            ids,
            "an unknown id changes nothing"
        );
    }

    #[test]
    fn limits_read_like_a_person_wrote_them() {
        let limits = ImageLimits::default();
        assert_eq!(
            limits.too_large(),
            ApiError::invalid("file", "is larger than the 10 MiB limit")
        );
        assert_eq!(
            limits.too_many_pixels(2_147_483_647, 2_147_483_647),
            ApiError::invalid(
                "file",
                "is 2147483647 × 2147483647 pixels; images may be at most 16384 pixels a side and \
                 50 megapixels"
            )
        );
        let narrow = ImageLimits {
            max_width: 100,
            max_height: 80,
            max_pixels: 5_000,
            ..limits
        };
        assert_eq!(
            narrow.too_many_pixels(200, 10),
            ApiError::invalid(
                "file",
                "is 200 × 10 pixels; images may be at most 100 pixels wide, 80 pixels high and \
                 5000 pixels in all"
            )
        );
        assert_eq!(human_bytes(1536), "2 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 + 1), "5.0 MiB");
        assert_eq!(human_bytes(1024 * 1024 + 512 * 1024), "1.5 MiB");
        assert_eq!(human_bytes(10 * 1024 * 1024 - 1), "10.0 MiB");
        assert_eq!(human_bytes(u64::MAX), "17592186044416.0 MiB");
    }
}
