//! The writer connection's VFS: the write-ahead log frames that a commit appends reach the kernel
//! in one `pwrite`, not two per page.
//!
//! SQLite writes each log frame as two calls, its 24-byte header and then its page, so a commit
//! of 20 pages is 40 system calls, each taking the file's lock and dirtying the same page-cache
//! pages again. This VFS wraps the platform's default one and changes only how log files are
//! written:
//! * appended frames are gathered in memory and handed over together once the commit's last
//!   frame is complete (a commit's frame header carries the database's size in pages, zero in
//!   every other frame), or past [`MAX_GATHERED`] bytes;
//! * a write over bytes this log already holds (a page written twice in one transaction, or
//!   the checksums SQLite rewrites after that) goes through at once, after what was gathered;
//! * every other operation on the file (a read, a sync, a truncation, a close) first hands over
//!   what was gathered.
//!
//! So nothing changes in what is durable or visible when. SQLite publishes a commit to readers
//! (in the shared-memory index) only after its frame writes have returned, and by then the
//! frames are in the kernel, as without this VFS. A failed hand-over fails the commit's last
//! frame write, which SQLite handles as it would the failure of any of them: the commit is not
//! published and the transaction rolls back. Database files, journals and the shared memory are
//! the default VFS's, untouched.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections open this VFS by.
pub(super) const NAME: &str = "agno-gathered-wal";
const NAME_C: &CStr = c"agno-gathered-wal";

/// A log frame's header: page number, database size after a commit (0 otherwise), salts and
/// checksums.
const FRAME_HEADER: usize = 24;

/// Gathered bytes past this size are written at once, whatever the commit.
const MAX_GATHERED: usize = 1 << 20;

/// The most one write hands the default VFS: the unix VFS writes at most 128 KiB - 1 per system
/// call (it masks the length), and reports a full disk when a call writes nothing.
const MAX_WRITE: usize = 0x1_ffff;

/// A log file opened through this VFS: the default VFS's file, and the writes gathered for it.
#[repr(C)]
struct LogFile {
    /// SQLite's view: `pMethods` points at [`LOG_METHODS`].
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the memory after this struct.
    inner: *mut ffi::sqlite3_file,
    /// Appended bytes not yet handed to the inner file, starting at `offset`.
    gathered: Vec<u8>,
    offset: i64,
    /// Where this log's bytes written through this file end: a write below it rewrites them.
    end: i64,
    /// The last write was a commit's frame header: its page completes the commit.
    commit_pending: bool,
}

/// Where the default VFS's file starts inside SQLite's allocation for one of ours.
const INNER_OFFSET: usize = std::mem::size_of::<LogFile>().next_multiple_of(16);

/// Registers the VFS (once per process) and answers its name, or why it could not be.
pub(super) fn register() -> Result<&'static str, String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    // SAFETY: the `OnceLock` runs it once.
    REGISTERED.get_or_init(|| unsafe { register_once() }).clone().map(|()| NAME)
}

/// # Safety
/// Called once, through [`register`].
unsafe fn register_once() -> Result<(), String> {
    // SAFETY: a null name asks for the default VFS, which lives as long as the process.
    let default = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
    if default.is_null() {
        return Err("SQLite has no default VFS".into());
    }
    // SAFETY: checked non-null above; SQLite never frees a registered VFS.
    let base = unsafe { &*default };
    let size = usize::try_from(base.szOsFile).map_err(|_| "the default VFS's file size is negative")?;
    let ours = Box::leak(Box::new(ffi::sqlite3_vfs {
        iVersion: base.iVersion.min(2),
        szOsFile: c_int::try_from(INNER_OFFSET + size).map_err(|_| "the default VFS's files are too large")?,
        mxPathname: base.mxPathname,
        pNext: std::ptr::null_mut(),
        zName: NAME_C.as_ptr(),
        pAppData: default.cast::<c_void>(),
        xOpen: Some(open),
        xDelete: Some(delete),
        xAccess: Some(access),
        xFullPathname: Some(full_pathname),
        xDlOpen: Some(dl_open),
        xDlError: Some(dl_error),
        xDlSym: Some(dl_sym),
        xDlClose: Some(dl_close),
        xRandomness: Some(randomness),
        xSleep: Some(sleep),
        xCurrentTime: Some(current_time),
        xGetLastError: Some(get_last_error),
        xCurrentTimeInt64: if base.iVersion >= 2 { Some(current_time_int64) } else { None },
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    }));
    // SAFETY: `ours` is leaked, so it outlives every connection that uses it.
    match unsafe { ffi::sqlite3_vfs_register(ours, 0) } {
        ffi::SQLITE_OK => Ok(()),
        code => Err(format!("registering the {NAME} VFS failed with SQLite code {code}")),
    }
}

/// The default VFS this one wraps.
///
/// # Safety
/// `vfs` is this VFS.
unsafe fn inner_vfs(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: `register_once` stored the default VFS in `pAppData`.
    unsafe { (*vfs).pAppData.cast() }
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes this VFS, and `file` points at `szOsFile` bytes, 8-aligned.
    unsafe {
        let inner_vfs = inner_vfs(vfs);
        let Some(inner_open) = (*inner_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        if flags & ffi::SQLITE_OPEN_WAL == 0 {
            // Not a log: the default VFS's file, as it is.
            return inner_open(inner_vfs, name, file, flags, out_flags);
        }
        let inner = file.cast::<u8>().add(INNER_OFFSET).cast::<ffi::sqlite3_file>();
        let code = inner_open(inner_vfs, name, inner, flags, out_flags);
        if code != ffi::SQLITE_OK {
            // SQLite calls no method of a file whose open failed.
            (*file).pMethods = std::ptr::null();
            return code;
        }
        file.cast::<LogFile>().write(LogFile {
            base: ffi::sqlite3_file { pMethods: &LOG_METHODS },
            inner,
            gathered: Vec::new(),
            offset: 0,
            end: 0,
            commit_pending: false,
        });
        ffi::SQLITE_OK
    }
}

/// # Safety
/// `file` was opened by [`open`] as a log.
unsafe fn log_file<'a>(file: *mut ffi::sqlite3_file) -> &'a mut LogFile {
    // SAFETY: only log files get `LOG_METHODS`, and SQLite calls one method of a file at a time.
    unsafe { &mut *file.cast::<LogFile>() }
}

impl LogFile {
    /// The inner file's methods.
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: the inner file opened successfully, so its methods are set and static.
        unsafe { &*(*self.inner).pMethods }
    }

    /// Hands the gathered bytes to the inner file.
    fn flush(&mut self) -> c_int {
        self.commit_pending = false;
        if self.gathered.is_empty() {
            return ffi::SQLITE_OK;
        }
        let gathered = std::mem::take(&mut self.gathered);
        let code = self.write_through(&gathered, self.offset);
        // Written or failed, these bytes are done with: SQLite writes a failed commit's pages
        // again from its own cache. The buffer is kept for the next commit.
        self.gathered = gathered;
        self.gathered.clear();
        code
    }

    /// Writes `bytes` at `offset` in the inner file, at most [`MAX_WRITE`] per call.
    fn write_through(&self, bytes: &[u8], mut offset: i64) -> c_int {
        let Some(write) = self.methods().xWrite else { return ffi::SQLITE_IOERR_WRITE };
        for chunk in bytes.chunks(MAX_WRITE) {
            #[cfg(test)]
            tests::INNER_WRITES.with(|writes| writes.set(writes.get() + 1));
            // SAFETY: the chunk is readable and at most MAX_WRITE long; the inner file is open.
            let code = unsafe { write(self.inner, chunk.as_ptr().cast(), chunk.len() as c_int, offset) };
            if code != ffi::SQLITE_OK {
                return code;
            }
            offset += chunk.len() as i64;
        }
        ffi::SQLITE_OK
    }

    /// One write from SQLite, by the rules of the module's documentation.
    fn write(&mut self, bytes: &[u8], offset: i64) -> c_int {
        let len = bytes.len() as i64; // SQLite's `int` amount.
        if offset == 0 {
            // A log starting over writes its header first.
            self.end = 0;
        }
        if offset < self.end {
            // A rewrite of bytes already in this log.
            let code = self.flush();
            if code != ffi::SQLITE_OK {
                return code;
            }
            return self.write_through(bytes, offset);
        }
        // An append. The page after a commit's frame header completes the commit.
        let completes_commit = self.commit_pending;
        let contiguous = offset == self.offset + self.gathered.len() as i64;
        if !self.gathered.is_empty() && !contiguous {
            let code = self.flush();
            if code != ffi::SQLITE_OK {
                return code;
            }
        }
        if self.gathered.is_empty() {
            self.offset = offset;
        }
        self.gathered.extend_from_slice(bytes);
        self.end = offset + len;
        if completes_commit || self.gathered.len() >= MAX_GATHERED {
            return self.flush();
        }
        // A commit's frame header holds the database's size in pages (bytes 4..8).
        self.commit_pending = bytes.len() == FRAME_HEADER && bytes[4..8] != [0; 4];
        ffi::SQLITE_OK
    }
}

unsafe extern "C" fn log_write(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    let Ok(amount) = usize::try_from(amount) else { return ffi::SQLITE_IOERR_WRITE };
    // SAFETY: SQLite passes a log file and `amount` readable bytes at `data`.
    let (log, bytes) = unsafe { (log_file(file), std::slice::from_raw_parts(data.cast::<u8>(), amount)) };
    log.write(bytes, offset)
}

/// Defines a log method that hands over the gathered bytes, then calls the inner file's method.
macro_rules! flush_then {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: SQLite passes a log file opened by `open`.
            let log = unsafe { log_file(file) };
            let code = log.flush();
            if code != ffi::SQLITE_OK {
                return code;
            }
            match log.methods().$method {
                // SAFETY: the inner file is open; the arguments are SQLite's.
                Some(method) => unsafe { method(log.inner $(, $arg)*) },
                None => $missing,
            }
        }
    };
}

flush_then!(log_read, xRead, (data: *mut c_void, amount: c_int, offset: i64), ffi::SQLITE_IOERR_READ);
flush_then!(log_truncate, xTruncate, (size: i64), ffi::SQLITE_IOERR_TRUNCATE);
flush_then!(log_sync, xSync, (flags: c_int), ffi::SQLITE_IOERR_FSYNC);
flush_then!(log_file_size, xFileSize, (size: *mut i64), ffi::SQLITE_IOERR_FSTAT);
flush_then!(log_lock, xLock, (level: c_int), ffi::SQLITE_OK);
flush_then!(log_unlock, xUnlock, (level: c_int), ffi::SQLITE_OK);
flush_then!(log_check_reserved_lock, xCheckReservedLock, (out: *mut c_int), ffi::SQLITE_OK);
flush_then!(log_file_control, xFileControl, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);

unsafe extern "C" fn log_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes a log file opened by `open`, and never uses it again.
    unsafe {
        let log = log_file(file);
        let flushed = log.flush();
        let closed = match log.methods().xClose {
            Some(close) => close(log.inner),
            None => ffi::SQLITE_OK,
        };
        std::ptr::drop_in_place(file.cast::<LogFile>());
        if flushed != ffi::SQLITE_OK { flushed } else { closed }
    }
}

unsafe extern "C" fn log_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes a log file opened by `open`.
    let log = unsafe { log_file(file) };
    // SAFETY: the inner file is open.
    log.methods().xSectorSize.map_or(4096, |method| unsafe { method(log.inner) })
}

unsafe extern "C" fn log_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes a log file opened by `open`.
    let log = unsafe { log_file(file) };
    // SAFETY: the inner file is open.
    log.methods().xDeviceCharacteristics.map_or(0, |method| unsafe { method(log.inner) })
}

/// A log file's methods. Version 1: SQLite maps no log file into memory and keeps no shared
/// memory on it.
static LOG_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(log_close),
    xRead: Some(log_read),
    xWrite: Some(log_write),
    xTruncate: Some(log_truncate),
    xSync: Some(log_sync),
    xFileSize: Some(log_file_size),
    xLock: Some(log_lock),
    xUnlock: Some(log_unlock),
    xCheckReservedLock: Some(log_check_reserved_lock),
    xFileControl: Some(log_file_control),
    xSectorSize: Some(log_sector_size),
    xDeviceCharacteristics: Some(log_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

/// Defines a VFS method that calls the default VFS's.
macro_rules! forward {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(vfs: *mut ffi::sqlite3_vfs $(, $arg: $ty)*) -> $ret {
            // SAFETY: SQLite passes this VFS; the arguments are SQLite's.
            unsafe {
                let inner = inner_vfs(vfs);
                match (*inner).$method {
                    Some(method) => method(inner $(, $arg)*),
                    None => $missing,
                }
            }
        }
    };
}

forward!(delete, xDelete, (name: *const c_char, sync_dir: c_int) -> c_int, ffi::SQLITE_IOERR_DELETE);
forward!(access, xAccess, (name: *const c_char, flags: c_int, out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_ACCESS);
forward!(full_pathname, xFullPathname, (name: *const c_char, size: c_int, out: *mut c_char) -> c_int, ffi::SQLITE_CANTOPEN);
forward!(dl_open, xDlOpen, (name: *const c_char) -> *mut c_void, std::ptr::null_mut());
forward!(dl_error, xDlError, (size: c_int, out: *mut c_char) -> (), ());
forward!(dl_close, xDlClose, (handle: *mut c_void) -> (), ());
forward!(randomness, xRandomness, (size: c_int, out: *mut c_char) -> c_int, 0);
forward!(sleep, xSleep, (micros: c_int) -> c_int, 0);
forward!(current_time, xCurrentTime, (out: *mut f64) -> c_int, ffi::SQLITE_ERROR);
forward!(get_last_error, xGetLastError, (size: c_int, out: *mut c_char) -> c_int, 0);
forward!(current_time_int64, xCurrentTimeInt64, (out: *mut i64) -> c_int, ffi::SQLITE_ERROR);

/// A symbol of a loaded extension, as the default VFS finds it.
type Symbol = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn dl_sym(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void, symbol: *const c_char) -> Option<Symbol> {
    // SAFETY: SQLite passes this VFS; the arguments are SQLite's.
    unsafe {
        let inner = inner_vfs(vfs);
        (*inner).xDlSym.and_then(|method| method(inner, handle, symbol))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use rusqlite::{Connection, OpenFlags, params};

    use super::register;

    thread_local! {
        /// Writes this thread's log files handed to the default VFS.
        pub(super) static INNER_WRITES: Cell<u64> = const { Cell::new(0) };
    }

    /// A connection writing its log through the VFS, as `SqliteDb`'s writer does.
    fn writer(path: &Path) -> Connection {
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), register().unwrap()).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        )
        .unwrap();
        conn
    }

    /// How many writes reached the default VFS while `f` ran on this thread.
    fn writes_during(f: impl FnOnce()) -> u64 {
        let before = INNER_WRITES.with(Cell::get);
        f();
        INNER_WRITES.with(Cell::get) - before
    }

    /// `len` bytes that differ from row to row and from round to round.
    fn body(id: i64, round: i64, len: usize) -> Vec<u8> {
        let mut state = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (round as u64).wrapping_add(1);
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 56) as u8
            })
            .collect()
    }

    fn stored(conn: &Connection, id: i64) -> Vec<u8> {
        conn.query_row("SELECT body FROM t WHERE id = ?1", [id], |row| row.get(0)).unwrap()
    }

    /// Copies the database and its log as they are on disk, the state a killed process leaves,
    /// and opens the copy: SQLite rebuilds its index from the log, checking every frame's
    /// checksum, so a commit whose frames did not all reach the file is not in the copy.
    fn crash_copy(path: &Path) -> Connection {
        let copy = path.with_file_name("crashed.db");
        std::fs::copy(path, &copy).unwrap();
        std::fs::copy(path.with_file_name("log.db-wal"), copy.with_file_name("crashed.db-wal")).unwrap();
        let conn = Connection::open(&copy).unwrap();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(check, "ok");
        conn
    }

    #[test]
    fn each_commit_reaches_the_file_in_one_write_and_is_seen_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let conn = writer(&path);
        // Another connection, on the default VFS, reads what the file holds.
        let reader = Connection::open(&path).unwrap();
        for (id, len) in [(1, 10), (2, 3_000), (3, 20_000), (4, 100_000)] {
            let data = body(id, 0, len);
            let writes = writes_during(|| {
                assert_eq!(conn.execute("INSERT INTO t VALUES (?1, ?2)", params![id, data]).unwrap(), 1)
            });
            // Up to 128 KiB of frames (a 100,000-byte row is 26 pages): one write, where SQLite
            // alone makes two per page.
            assert_eq!(writes, 1, "row {id} of {len} bytes");
            assert_eq!(stored(&reader, id), data);
        }
        // A commit past what one write may carry is handed over in chunks, not frame by frame.
        let big = body(5, 0, 3_000_000);
        let writes = writes_during(|| {
            conn.execute("INSERT INTO t VALUES (5, ?1)", [&big]).unwrap();
        });
        let frames = 3_000_000 / 4096;
        assert!((20..frames / 10).contains(&writes), "{writes} writes for about {frames} frames");
        assert_eq!(stored(&reader, 5), big);
        assert_eq!(stored(&crash_copy(&path), 5), big);
    }

    #[test]
    fn a_log_that_starts_over_is_gathered_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let conn = writer(&path);
        for round in 0..5 {
            let data = body(1, round, 20_000);
            let writes = writes_during(|| {
                conn.execute("INSERT OR REPLACE INTO t VALUES (1, ?1)", [&data]).unwrap();
            });
            // After a restart SQLite writes the log's header and syncs it before any frame: the
            // header goes alone, then the frames in one write (14 writes if they were taken for
            // rewrites of the log before it).
            assert_eq!(writes, if round == 0 { 1 } else { 2 }, "round {round}");
            assert_eq!(stored(&crash_copy(&path), 1), data);
            // Copied back: the next commit writes the log again from its first byte, over the
            // old one (RESTART, as `SqliteDb`'s checkpoints do) or into an emptied file (TRUNCATE).
            let mode = if round % 2 == 0 { "RESTART" } else { "TRUNCATE" };
            let (busy, _, _): (i64, i64, i64) = conn
                .query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .unwrap();
            assert_eq!(busy, 0);
        }
    }

    #[test]
    fn a_transaction_that_rewrites_its_own_frames_survives_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let conn = writer(&path);
        const ROWS: i64 = 60;
        let tx = conn.unchecked_transaction().unwrap();
        for id in 0..ROWS {
            tx.execute("INSERT INTO t VALUES (?1, ?2)", params![id, body(id, 0, 1_500)]).unwrap();
        }
        tx.commit().unwrap();
        // A page cache of 4 pages spills the transaction's pages into the log before it commits;
        // rewritten, they are written over their own frames, and the commit then rewrites the
        // checksums of every frame from the first one rewritten.
        conn.execute_batch("PRAGMA cache_size = 4").unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for round in 1..=4 {
            for id in 0..ROWS {
                tx.execute("UPDATE t SET body = ?2 WHERE id = ?1", params![id, body(id, round, 1_500)]).unwrap();
            }
        }
        tx.commit().unwrap();
        let copy = crash_copy(&path);
        for id in 0..ROWS {
            assert_eq!(stored(&copy, id), body(id, 4, 1_500), "row {id}");
        }
    }
}
