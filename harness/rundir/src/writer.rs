//! [`RunWriter`]: writing a run directory, exactly once.
//!
//! Records are appended to the two record files; at each checkpoint the files are flushed and synced,
//! then `checkpoint.json` is replaced atomically (write, sync, rename) with the next height, the files'
//! lengths and the counters. A resumed run truncates both files to the checkpoint's lengths — dropping
//! whatever was written after it — restores the counters and continues at the next height, so after a
//! kill at any moment the records end exactly as an uninterrupted run's.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dualrun_core::{Mode, UtcTime};
use dualrun_format::file::write_atomic;
use dualrun_format::{keccak256, ChainDigest, FileError, Hash32};

use crate::access::{describe_changes, pretty};
use crate::checkpoint::{Checkpoint, CHECKPOINT_FORMAT};
use crate::error::RunDirError;
use crate::files::{CHECKPOINT, CSV, DIGESTED, IDS, JSONL, LOG, MANIFEST, REORGS, SUMMARY, TIMINGS};
use crate::manifest::{Inputs, Manifest};
use crate::record::{Record, CSV_HEADER};
use crate::reorg::ReorgEvent;
use crate::stats::Stats;
use crate::summary::Summary;
use crate::timings::{Timing, TIMINGS_HEADER};

/// How often a run makes its records durable with a checkpoint: every this many judged blocks…
pub const CHECKPOINT_EVERY_BLOCKS: u64 = 8192;
/// …or this often, whichever comes first (a replay, a live run between batches, a Python DualRun).
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// A run directory open for writing.
pub struct RunWriter {
    dir: PathBuf,
    inputs_digest: Hash32,
    jsonl: BufWriter<File>,
    csv: BufWriter<File>,
    jsonl_bytes: u64,
    csv_bytes: u64,
    /// `timings.csv` and its length.
    timings: BufWriter<File>,
    timings_bytes: u64,
    /// `ids.bin` and its length (live runs only).
    ids: Option<(BufWriter<File>, u64)>,
    /// The chain digest of the judged blocks, computed on the way (runs over a fixed range).
    judged: ChainDigest,
    /// This writer's hold on the directory: one writer at a time.
    _lock: DirLock,
}

/// How long a writer waits for another process's hold on a run directory to end: the child of a run
/// killed with `kill -9` may still be exiting when its `--resume` starts.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(30);

/// An exclusive hold on a run directory (`flock` on the directory itself, so the closed set of files is
/// untouched), released when dropped or when the process ends, however it ends.
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] File);

/// Takes the hold on `dir`, waiting up to `wait` for another holder (every writer of a run directory,
/// replay or fleet, holds it while it writes).
pub fn lock_dir(dir: &Path, wait: Duration) -> Result<DirLock, RunDirError> {
    use std::os::fd::AsRawFd;
    let f = File::open(dir).map_err(FileError::at(dir))?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(DirLock(f));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(FileError::new(dir, e).into());
        }
        if std::time::Instant::now() >= deadline {
            return Err(RunDirError::Busy { dir: dir.into(), waited_seconds: wait.as_secs() });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn csv_header() -> String {
    format!("{CSV_HEADER}\n")
}

fn timings_header() -> String {
    format!("{TIMINGS_HEADER}\n")
}

impl RunWriter {
    /// The run directory of a run started at `started_unix` when none is given:
    /// `reports/<YYYYMMDDTHHMMSSZ>-<mode>`.
    pub fn default_dir(mode: Mode, started_unix: u64) -> PathBuf {
        PathBuf::from("reports").join(format!("{}-{mode}", UtcTime::from_unix(started_unix).stamp()))
    }

    /// Makes `dir` ready for a run before anything is written in it, and returns its one spelling
    /// (canonical, so that records — their reproduce lines — do not depend on how it was written when a
    /// run is resumed). A new run needs a directory that holds no run ([`RunWriter::check_empty`]); a
    /// resume, one with a manifest of a format this dualrun reads ([`Manifest::load`]).
    pub fn prepare_dir(dir: &Path, resume: bool) -> Result<PathBuf, RunDirError> {
        if !resume {
            RunWriter::check_empty(dir)?;
        } else if !dir.join(MANIFEST).exists() {
            return Err(RunDirError::NoRunToResume { dir: dir.into() });
        } else {
            Manifest::load(dir)?;
        }
        std::fs::create_dir_all(dir).map_err(|io| RunDirError::Create { dir: dir.into(), io })?;
        dir.canonicalize().map_err(|io| RunDirError::Resolve { dir: dir.into(), io })
    }

    /// Refuses a directory that already holds a run (anything but `run.log`, which the caller may have
    /// opened first to log the run's start).
    pub fn check_empty(dir: &Path) -> Result<(), RunDirError> {
        if !dir.exists() {
            return Ok(());
        }
        let mut found: Vec<String> = std::fs::read_dir(dir)
            .map_err(FileError::at(dir))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name() != LOG)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if found.is_empty() {
            return Ok(());
        }
        found.sort();
        Err(RunDirError::Occupied { dir: dir.into(), found: found.join(", ") })
    }

    /// Starts a new run in `dir`, which must not exist or hold nothing but `run.log`.
    pub fn create(dir: &Path, manifest: &Manifest) -> Result<RunWriter, RunDirError> {
        RunWriter::check_empty(dir)?;
        std::fs::create_dir_all(dir).map_err(FileError::at(dir))?;
        let lock = lock_dir(dir, LOCK_WAIT)?;
        // Looked at again under the hold: another writer may have started between.
        RunWriter::check_empty(dir)?;
        write_atomic(&dir.join(MANIFEST), &pretty(manifest))?;
        let open = |name: &str, header: &[u8]| -> Result<(BufWriter<File>, u64), FileError> {
            let p = dir.join(name);
            let mut f = File::create(&p).map_err(FileError::at(&p))?;
            f.write_all(header).map_err(FileError::at(&p))?;
            Ok((BufWriter::with_capacity(1 << 16, f), header.len() as u64))
        };
        let (jsonl, jsonl_bytes) = open(JSONL, b"")?;
        let (csv, csv_bytes) = open(CSV, csv_header().as_bytes())?;
        let (timings, timings_bytes) = open(TIMINGS, timings_header().as_bytes())?;
        let ids = if manifest.inputs.chain.live { Some(open(IDS, b"")?) } else { None };
        // A checkpoint names the inputs a resume must find unchanged (for a live run, not its growing end).
        let inputs_digest = manifest.inputs.stable().digest();
        let judged = ChainDigest::new();
        Ok(RunWriter {
            dir: dir.into(),
            inputs_digest,
            jsonl,
            csv,
            jsonl_bytes,
            csv_bytes,
            timings,
            timings_bytes,
            ids,
            judged,
            _lock: lock,
        })
    }

    /// Reopens a run for `--resume`: checks the inputs are the same, truncates the record files to the
    /// last checkpoint (to nothing if it was killed before its first) and returns the manifest written
    /// at the start and the checkpoint. A run over a fixed range then needs [`RunWriter::continue_digest`].
    pub fn resume(dir: &Path, inputs: &Inputs) -> Result<(RunWriter, Manifest, Option<Checkpoint>), RunDirError> {
        if !dir.join(MANIFEST).exists() {
            return Err(RunDirError::NothingToResume { dir: dir.into(), why: "no manifest.json in it".into() });
        }
        // Nothing is read before the hold: a writer still exiting could change it.
        let lock = lock_dir(dir, LOCK_WAIT)?;
        let manifest = Manifest::load(dir)?;
        if manifest.format_version != crate::FORMAT_VERSION {
            return Err(RunDirError::NothingToResume {
                dir: dir.into(),
                why: format!(
                    "it was started with run directory format version {} (before timings.csv); finish it with the \
                     dualrun that started it, or start it again",
                    manifest.format_version
                ),
            });
        }
        let (was, now) = (manifest.inputs.stable(), inputs.stable());
        if was != now {
            let differences = describe_changes(&was.to_value(), &now.to_value());
            return Err(RunDirError::InputsChanged { dir: dir.into(), differences });
        }
        let inputs_digest = now.digest();
        let cp_path = dir.join(CHECKPOINT);
        let cp: Option<Checkpoint> = if cp_path.exists() {
            let cp: Checkpoint = crate::access::read_json(dir, CHECKPOINT)?;
            if cp.format != CHECKPOINT_FORMAT {
                return Err(RunDirError::Corrupt { file: cp_path, message: format!("unknown format {:?}", cp.format) });
            }
            if cp.inputs_digest != inputs_digest {
                return Err(RunDirError::InputsChanged {
                    dir: dir.into(),
                    differences: "the checkpoint was made with other inputs".into(),
                });
            }
            let mut cp = cp;
            finish_pending_reorg(dir, &mut cp)?;
            check_counts(dir, &cp)?;
            Some(cp)
        } else {
            None
        };
        let (header, timings_header) = (csv_header(), timings_header());
        let (jsonl_len, csv_len, timings_len) =
            cp.as_ref().map_or((0, header.len() as u64, timings_header.len() as u64), |c| {
                (c.jsonl_bytes, c.csv_bytes, c.timings_bytes)
            });
        let jsonl = reopen(&dir.join(JSONL), jsonl_len, b"")?;
        let csv = reopen(&dir.join(CSV), csv_len, header.as_bytes())?;
        let timings = reopen(&dir.join(TIMINGS), timings_len, timings_header.as_bytes())?;
        let ids = if inputs.chain.live {
            let len = cp.as_ref().map_or(0, |c| c.ids_bytes);
            Some((reopen(&dir.join(IDS), len, b"")?, len))
        } else {
            None
        };
        let writer = RunWriter {
            dir: dir.into(),
            inputs_digest,
            jsonl,
            csv,
            jsonl_bytes: jsonl_len,
            csv_bytes: csv_len,
            timings,
            timings_bytes: timings_len.max(timings_header.len() as u64),
            ids,
            judged: ChainDigest::new(),
            _lock: lock,
        };
        Ok((writer, manifest, cp))
    }

    /// For a resumed run over a fixed range: `judged` is the chain digest of the blocks the checkpoint
    /// says were judged, computed from the chain as it is now. It must be the one the checkpoint recorded
    /// (the chain did not change under the run); the digest then goes on from it.
    pub fn continue_digest(&mut self, checkpoint: &Checkpoint, judged: ChainDigest) -> Result<(), RunDirError> {
        let recorded = checkpoint.judged_digest.unwrap_or_default();
        if judged.current() != recorded {
            return Err(RunDirError::InputsChanged {
                dir: self.dir.clone(),
                differences: format!(
                    "the chain changed under the run: the {} blocks it judged have chain digest {} now, {recorded} \
                     when it checkpointed",
                    judged.count(),
                    judged.current()
                ),
            });
        }
        self.judged = judged;
        Ok(())
    }

    /// Appends one record to both record files.
    pub fn write(&mut self, r: &Record) -> Result<(), RunDirError> {
        let mut line = r.json_line();
        line.push(b'\n');
        self.jsonl.write_all(&line).map_err(FileError::at(&self.dir.join(JSONL)))?;
        self.jsonl_bytes += line.len() as u64;
        let csv_line = format!("{}\n", r.csv_line());
        self.csv.write_all(csv_line.as_bytes()).map_err(FileError::at(&self.dir.join(CSV)))?;
        self.csv_bytes += csv_line.len() as u64;
        Ok(())
    }

    /// Appends one judged block's line to `timings.csv`.
    pub fn timing(&mut self, t: &Timing) -> Result<(), RunDirError> {
        let line = t.csv_line();
        self.timings.write_all(line.as_bytes()).map_err(FileError::at(&self.dir.join(TIMINGS)))?;
        self.timings_bytes += line.len() as u64;
        Ok(())
    }

    /// Records the computed id of the next judged block (live runs: in `ids.bin`; others: in the chain
    /// digest computed on the way).
    pub fn judged_id(&mut self, id: &Hash32) -> Result<(), RunDirError> {
        match &mut self.ids {
            Some((w, len)) => {
                w.write_all(&id.0).map_err(FileError::at(&self.dir.join(IDS)))?;
                *len += 32;
            }
            None => self.judged.push(id),
        }
        Ok(())
    }

    /// The chain digest of the judged blocks and their number (live runs: made from `ids.bin`, flushed
    /// first).
    pub fn judged_digest(&mut self) -> Result<(Hash32, u64), RunDirError> {
        let Some((w, len)) = &mut self.ids else { return Ok((self.judged.current(), self.judged.count())) };
        let p = self.dir.join(IDS);
        w.flush().map_err(FileError::at(&p))?;
        let bytes = dualrun_format::file::read(&p)?;
        let bytes = &bytes[..(*len as usize).min(bytes.len())];
        Ok((keccak256(bytes), *len / 32))
    }

    /// Makes everything written so far durable and records the checkpoint.
    pub fn checkpoint(&mut self, next_height: u64, stats: &Stats, complete: bool) -> Result<(), RunDirError> {
        for (w, name) in [(&mut self.jsonl, JSONL), (&mut self.csv, CSV), (&mut self.timings, TIMINGS)] {
            let p = self.dir.join(name);
            w.flush().map_err(FileError::at(&p))?;
            w.get_ref().sync_data().map_err(FileError::at(&p))?;
        }
        if let Some((w, _)) = &mut self.ids {
            let p = self.dir.join(IDS);
            w.flush().map_err(FileError::at(&p))?;
            w.get_ref().sync_data().map_err(FileError::at(&p))?;
        }
        let cp = Checkpoint {
            format: CHECKPOINT_FORMAT.into(),
            inputs_digest: self.inputs_digest,
            next_height,
            jsonl_bytes: self.jsonl_bytes,
            csv_bytes: self.csv_bytes,
            timings_bytes: self.timings_bytes,
            ids_bytes: self.ids.as_ref().map_or(0, |(_, len)| *len),
            judged_digest: self.ids.is_none().then(|| self.judged.current()),
            stats: stats.clone(),
            complete,
            pending_reorg: None,
        };
        Ok(write_atomic(&self.dir.join(CHECKPOINT), &pretty(&cp))?)
    }

    /// Rewrites `manifest.json` (a live run reopened is marked unfinished until it stops again).
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), RunDirError> {
        Ok(write_atomic(&self.dir.join(MANIFEST), &pretty(manifest))?)
    }

    /// Writes `summary.json` and the manifest with the record and summary files' digests.
    pub fn finish(&mut self, summary: &Summary, mut manifest: Manifest) -> Result<(), RunDirError> {
        // The digests name the records written, not what a buffer still holds.
        for (w, name) in [(&mut self.jsonl, JSONL), (&mut self.csv, CSV), (&mut self.timings, TIMINGS)] {
            w.flush().map_err(FileError::at(&self.dir.join(name)))?;
        }
        write_atomic(&self.dir.join(SUMMARY), &summary.to_bytes())?;
        let mut files = std::collections::BTreeMap::new();
        for name in DIGESTED {
            files.insert(name.to_owned(), crate::files::digest(&self.dir, name)?);
        }
        // A live run's reorganizations decide which records are orphaned: digested like the records.
        if self.dir.join(REORGS).exists() {
            files.insert(REORGS.to_owned(), crate::files::digest(&self.dir, REORGS)?);
        }
        manifest.files = Some(files);
        Ok(write_atomic(&self.dir.join(MANIFEST), &pretty(&manifest))?)
    }
}

/// Refuses a checkpoint whose record counts are not those of the records it keeps (the first
/// `jsonl_bytes` of `divergences.jsonl`): a resume continues from counts only when the records agree.
fn check_counts(dir: &Path, cp: &Checkpoint) -> Result<(), RunDirError> {
    let corrupt = |message: String| RunDirError::Corrupt { file: dir.join(CHECKPOINT), message };
    let read = crate::reader::records_in(dir, cp.jsonl_bytes)?.unwrap_or_default();
    if let Some((line, why)) = read.unreadable.first() {
        return Err(corrupt(format!("divergences.jsonl line {line} is {why}")));
    }
    let counted = read.counts();
    for class in dualrun_core::RecordClass::ALL {
        let (kept, says) = (counted.get(&class).copied().unwrap_or(0), cp.stats.count(class));
        if kept != says {
            return Err(corrupt(format!(
                "stats.records.{} = {says}, but the records it keeps in divergences.jsonl hold {kept}: refusing to \
                 resume from counts the records do not agree with",
                class.as_str()
            )));
        }
    }
    Ok(())
}

/// Opens a record file for appending at `len` bytes (checked to be there), rewriting the header when
/// nothing past it was checkpointed.
fn reopen(p: &Path, len: u64, header: &[u8]) -> Result<BufWriter<File>, RunDirError> {
    let mut f =
        OpenOptions::new().create(true).truncate(false).read(true).write(true).open(p).map_err(FileError::at(p))?;
    let actual = f.metadata().map_err(FileError::at(p))?.len();
    if actual < len {
        return Err(RunDirError::Corrupt {
            file: p.into(),
            message: format!("{actual} bytes, but the checkpoint recorded {len}: records were lost"),
        });
    }
    if len <= header.len() as u64 {
        f.set_len(0).map_err(FileError::at(p))?;
        f.write_all(header).map_err(FileError::at(p))?;
    } else {
        f.set_len(len).map_err(FileError::at(p))?;
    }
    f.seek(std::io::SeekFrom::End(0)).map_err(FileError::at(p))?;
    f.sync_all().map_err(FileError::at(p))?;
    Ok(BufWriter::with_capacity(1 << 16, f))
}

/// Takes a stopped live run back to the fork of `event` after its daemon's chain reorganized, and
/// records the event in `reorgs.jsonl`. The checkpoint is rewritten first, with the event pending and the
/// next height at the fork (`ids.bin` is cut to it when the run is resumed; the record files are not
/// touched: the orphaned blocks' records stay); then the event is appended; then the checkpoint clears
/// it. A kill anywhere leaves a state the next resume finishes. Orphaned blocks the run never judged are
/// dropped from the event; with none left nothing changes (`None`). Returns the event as recorded.
pub fn rewind_live(dir: &Path, mut event: ReorgEvent) -> Result<Option<ReorgEvent>, RunDirError> {
    let _lock = lock_dir(dir, LOCK_WAIT)?;
    let manifest = Manifest::load(dir)?;
    let cp_path = dir.join(CHECKPOINT);
    let mut cp: Checkpoint = crate::access::read_json(dir, CHECKPOINT)?;
    let from = manifest.inputs.chain.from;
    event.orphaned.retain(|o| o.height < cp.next_height);
    let Some(fork) = event.orphaned.first().map(|o| o.height) else { return Ok(None) };
    if !manifest.inputs.chain.live || fork < from {
        return Err(RunDirError::Corrupt {
            file: cp_path,
            message: format!("cannot rewind to height {fork}: the run is not live or starts at {from}"),
        });
    }
    event.records_before = cp.stats.total_records();
    (cp.next_height, cp.ids_bytes, cp.complete) = (fork, (fork - from) * 32, false);
    cp.pending_reorg = Some(event.clone());
    write_atomic(&cp_path, &pretty(&cp))?;
    finish_pending_reorg(dir, &mut cp)?;
    Ok(Some(event))
}

/// Appends a checkpoint's pending reorganization to `reorgs.jsonl` (once) and clears it.
fn finish_pending_reorg(dir: &Path, cp: &mut Checkpoint) -> Result<(), RunDirError> {
    let Some(event) = cp.pending_reorg.take() else { return Ok(()) };
    event.append_once(dir)?;
    Ok(write_atomic(&dir.join(CHECKPOINT), &pretty(cp))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_out_goes_under_reports_named_by_its_start_and_mode() {
        assert_eq!(RunWriter::default_dir(Mode::Shadow, 0), Path::new("reports/19700101T000000Z-shadow"));
        assert_eq!(RunWriter::default_dir(Mode::Only, 1_700_000_000), Path::new("reports/20231114T221320Z-only"));
    }

    #[test]
    fn a_new_run_needs_an_empty_directory_and_a_resume_a_run_of_a_known_format() {
        let tmp = tempfile::tempdir().unwrap();
        let new = tmp.path().join("a/new");
        assert_eq!(RunWriter::prepare_dir(&new, false).unwrap(), new.canonicalize().unwrap());
        std::fs::write(new.join(LOG), "").unwrap();
        assert!(RunWriter::prepare_dir(&new, false).is_ok(), "a run.log alone is no run");

        let e = RunWriter::prepare_dir(&new, true).unwrap_err();
        assert!(matches!(e, RunDirError::NoRunToResume { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!("{}: nothing to resume (no manifest.json); start a run there without --resume", new.display())
        );

        let run = dualrun_testkit::sample_run::copy_with_format_version(&tmp.path().join("run"), 1);
        assert!(matches!(RunWriter::prepare_dir(&run, false), Err(RunDirError::Occupied { .. })));
        assert_eq!(RunWriter::prepare_dir(&run, true).unwrap(), run.canonicalize().unwrap());
        let v3 = dualrun_testkit::sample_run::copy_with_format_version(&tmp.path().join("v3"), 3);
        let e = RunWriter::prepare_dir(&v3, true).unwrap_err();
        assert!(matches!(e, RunDirError::UnknownFormat { .. }), "{e}");

        std::fs::write(tmp.path().join("file"), "").unwrap();
        let e = RunWriter::prepare_dir(&tmp.path().join("file/run"), false).unwrap_err();
        assert!(matches!(e, RunDirError::Create { .. }), "{e}");
        assert_eq!(e.to_string(), format!("creating {}", tmp.path().join("file/run").display()));
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    /// One writer at a time: a second waits for the first's hold to end, and past its wait is refused,
    /// naming the directory.
    #[test]
    fn a_run_directory_has_one_writer_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let held = lock_dir(tmp.path(), Duration::ZERO).unwrap();
        let refused = lock_dir(tmp.path(), Duration::from_millis(100)).unwrap_err();
        assert!(matches!(refused, RunDirError::Busy { .. }), "{refused}");
        assert!(refused.to_string().contains(&tmp.path().display().to_string()), "{refused}");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        lock_dir(tmp.path(), Duration::from_secs(10)).expect("taken once the holder lets go");
        release.join().unwrap();
    }
}
