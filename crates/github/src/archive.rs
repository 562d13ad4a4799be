//! A repository archive (GitHub's gzip'd tar of a commit) read as it streams in: on a blocking
//! thread, chunk by chunk, never held whole. Only the files asked for are read; each is handed
//! over as soon as it is complete.

use crate::TreeFile;
use std::collections::HashMap;

/// Reads the gzip'd tar arriving on `chunks`, sending the contents of the files in `wanted`
/// (removed from it as they are found) to `delivered`, one at a time.
pub fn unpack(
    chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    wanted: &mut HashMap<String, TreeFile>,
    delivered: &tokio::sync::mpsc::Sender<(TreeFile, Vec<u8>)>,
    max_file_bytes: u64,
) -> std::io::Result<()> {
    use std::io::Read;
    let reader = ChunkReader {
        chunks,
        current: bytes::Bytes::new(),
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    for entry in archive.entries()? {
        let entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path()?;
        // GitHub's archives put everything under one folder, `owner-repo-sha/`.
        let inner: std::path::PathBuf = path.components().skip(1).collect();
        let Some(inner) = inner.to_str() else {
            continue;
        };
        if let Some(file) = wanted.remove(inner) {
            // Never more than the tree said the file holds (nor than a file may).
            let limit = file.size.min(max_file_bytes);
            let mut bytes = Vec::with_capacity(usize::try_from(limit).unwrap_or(0));
            entry.take(limit).read_to_end(&mut bytes)?;
            if delivered.blocking_send((file, bytes)).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The archive's chunks as a blocking reader.
struct ChunkReader {
    chunks: tokio::sync::mpsc::Receiver<bytes::Bytes>,
    current: bytes::Bytes,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, size: u64) -> TreeFile {
        TreeFile {
            path: path.into(),
            blob_sha: format!("sha-{path}"),
            size,
            mode: "100644".into(),
        }
    }

    /// A gzip'd tar as GitHub sends one: everything under `owner-repo-sha/`.
    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, contents) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(
                &mut header,
                format!("acme-widgets-0123abc/{path}"),
                *contents,
            )
            .unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn only_the_wanted_files_are_read_each_within_its_size_and_chunks_may_split_anywhere() {
        let gz = archive(&[
            ("src/a.rs", b"fn a() {}\n"),
            ("src/skipped.rs", b"not wanted"),
            ("README.md", b"# Widgets, and more than the tree said\n"),
        ]);
        let (chunks, received) = tokio::sync::mpsc::channel(1024);
        // Seven-byte chunks: headers and contents split across them.
        for chunk in gz.chunks(7) {
            chunks
                .try_send(bytes::Bytes::copy_from_slice(chunk))
                .unwrap();
        }
        drop(chunks);
        let (delivered, mut found) = tokio::sync::mpsc::channel(16);
        let mut wanted: HashMap<String, TreeFile> = [file("src/a.rs", 10), file("README.md", 9)]
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect();
        wanted.insert("src/gone.rs".into(), file("src/gone.rs", 3));
        unpack(received, &mut wanted, &delivered, 1024).unwrap();
        drop(delivered);
        let mut got = Vec::new();
        while let Ok((file, bytes)) = found.try_recv() {
            got.push((file.path, String::from_utf8(bytes).unwrap()));
        }
        assert_eq!(
            got,
            vec![
                ("src/a.rs".to_owned(), "fn a() {}\n".to_owned()),
                // Never more than the tree said the file holds.
                ("README.md".to_owned(), "# Widgets".to_owned()),
            ]
        );
        // What the archive lacked is still wanted (fetched blob by blob).
        assert_eq!(wanted.keys().collect::<Vec<_>>(), vec!["src/gone.rs"]);
    }
}
