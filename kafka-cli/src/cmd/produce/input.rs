//! Input lines, read on a thread in large blocks: each line is a slice of its block.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::Context as _;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::exit::not_found;

/// Lines cut from one block, and how many input bytes that block was.
#[derive(Debug)]
pub struct Chunk {
    pub lines: Vec<Bytes>,
    pub read_bytes: u64,
}

/// Where lines come from.
#[derive(Debug)]
pub enum Source {
    Stdin,
    File { path: String, file: File, len: u64 },
}

const BLOCK: usize = 1 << 20;

impl Source {
    /// Opens `--file` (checked before connecting) or stdin.
    pub fn open(path: Option<&Path>) -> anyhow::Result<Source> {
        match path {
            None => Ok(Source::Stdin),
            Some(p) => {
                let file = File::open(p).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        not_found(format!("--file {}: no such file", p.display()))
                    } else {
                        anyhow::Error::new(e).context(format!("opening {}", p.display()))
                    }
                })?;
                let len = file
                    .metadata()
                    .with_context(|| format!("reading {}", p.display()))?
                    .len();
                Ok(Source::File {
                    path: p.display().to_string(),
                    file,
                    len,
                })
            }
        }
    }

    /// For messages: `stdin` or the path.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "stdin".into(),
            Source::File { path, .. } => path.clone(),
        }
    }

    /// A progress bar on stderr for files when stderr is a terminal.
    pub fn progress_bar(&self) -> Option<indicatif::ProgressBar> {
        match self {
            Source::File { len, .. } if super::stderr_is_tty() && !super::quiet() => {
                let pb = indicatif::ProgressBar::new(*len);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                ) {
                    pb.set_style(style);
                }
                Some(pb)
            }
            _ => None,
        }
    }

    /// Starts the reading thread; chunks arrive on the channel (an error ends it).
    pub fn spawn(&self) -> mpsc::Receiver<std::io::Result<Chunk>> {
        let (tx, rx) = mpsc::channel(8);
        let reader: std::io::Result<Box<dyn Read + Send>> = match self {
            Source::Stdin => Ok(Box::new(std::io::stdin())),
            Source::File { file, .. } => file
                .try_clone()
                .map(|f| Box::new(f) as Box<dyn Read + Send>),
        };
        std::thread::spawn(move || match reader {
            Ok(r) => read_lines(r, &tx),
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
            }
        });
        rx
    }
}

/// Cuts `block` (ending with `\n`) into lines without their `\n` / `\r\n`.
pub fn cut(block: &Bytes, lines: &mut Vec<Bytes>) {
    let mut start = 0;
    let b = &block[..];
    while start < b.len() {
        let end = match b[start..].iter().position(|c| *c == b'\n') {
            Some(p) => start + p,
            None => b.len(),
        };
        let mut e = end;
        if e > start && b[e - 1] == b'\r' {
            e -= 1;
        }
        lines.push(block.slice(start..e));
        start = end + 1;
    }
}

fn read_lines(mut r: Box<dyn Read + Send>, tx: &mpsc::Sender<std::io::Result<Chunk>>) {
    // Each block is a fresh allocation (large ones come zeroed from the OS, so no memset) read
    // into directly; the unfinished last line moves to the next block.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = vec![0u8; BLOCK.max(carry.len() * 2)];
        block[..carry.len()].copy_from_slice(&carry);
        let mut len = carry.len();
        let mut eof = false;
        // Fill the block, but hand over what we have as soon as a read comes back short
        // (a pipe or terminal: lines should go out as they are typed).
        loop {
            match r.read(&mut block[len..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    len += n;
                    if len == block.len() || block[len - n..len].contains(&b'\n') {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        block.truncate(len);
        let complete = if eof {
            len
        } else {
            block.iter().rposition(|c| *c == b'\n').map_or(0, |p| p + 1)
        };
        carry.clear();
        carry.extend_from_slice(&block[complete..]);
        block.truncate(complete);
        if complete > 0 {
            let block = Bytes::from(block);
            let mut lines = Vec::with_capacity(complete / 64 + 1);
            cut(&block, &mut lines);
            if tx
                .blocking_send(Ok(Chunk {
                    lines,
                    read_bytes: complete as u64,
                }))
                .is_err()
            {
                return;
            }
        }
        if eof {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting() {
        let mut l = Vec::new();
        cut(&Bytes::from_static(b"a\r\n\nb\xff\nlast"), &mut l);
        assert_eq!(l, vec![&b"a"[..], b"", b"b\xff", b"last"]);
        l.clear();
        cut(&Bytes::from_static(b"x\n"), &mut l);
        assert_eq!(l, vec![&b"x"[..]]);
    }
}
