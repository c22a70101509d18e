//! The writer connection's VFS: the write-ahead log frames that a commit appends reach the kernel
//! in one `pwrite`, not two per page.
//!
//! SQLite writes each log frame as two calls, its 24-byte header and then its page, so a commit
//! of 20 pages is 40 system calls, each taking the file's lock and dirtying the same page-cache
//! pages again. This VFS wraps the platform's default one and changes only how log files are
//! written:
//! * a frame appended to the log (a 24-byte header, then the write right after it) is gathered
//!   in memory; the gathered frames are handed to the kernel together once the commit's last
//!   frame is complete (a commit's frame header carries the database's size in pages, zero in
//!   every other frame), or past [`MAX_GATHERED`] bytes;
//! * every other write (the log's own header, a frame written over an earlier one, the
//!   checksums SQLite rewrites after that, a write cut at a sector boundary) goes through at
//!   once, after what was gathered;
//! * every other operation on the log (a read, a sync, a truncation, a close) first hands over
//!   what was gathered;
//! * so does the database file, before it releases a lock in the shared memory: frames SQLite
//!   spilled from a transaction that then rolled back are written while this connection still
//!   holds the write lock, never over another writer's later commit.
//!
//! So nothing changes in what is durable or visible when. SQLite publishes a commit to readers
//! (in the shared-memory index) only after its frame writes have returned, and by then the
//! frames are in the kernel, as without this VFS. A failed hand-over fails the write or the
//! operation that made it, as a failed write of the default VFS would: a write answers SQLite's
//! own code, anything else an I/O error (never "disk full", which SQLite may treat as the failure
//! of one statement), so the transaction rolls back. Journals, temporary files and the shared
//! memory are the default VFS's, untouched.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The name connections open this VFS by.
const NAME: &CStr = c"agno-gathered-wal";

/// A log frame's header: page number, database size after a commit (0 otherwise), salts and
/// checksums.
const FRAME_HEADER: usize = 24;

/// Gathered frames past this size are handed over at once, whatever the commit.
const MAX_GATHERED: usize = 1 << 20;

/// The most one write hands the default VFS: the unix VFS writes at most 128 KiB - 1 per system
/// call (it masks the length), and reports a full disk when a call writes nothing.
const MAX_WRITE: usize = 0x1_ffff;

/// A main database file opened through this VFS: the default VFS's file, and the log this
/// connection has open for it.
#[repr(C)]
struct DbFile {
    /// SQLite's view: `pMethods` points at [`DB_METHODS`].
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the memory after this struct.
    inner: *mut ffi::sqlite3_file,
    /// The log while it is open, else null.
    log: *mut LogFile,
}

/// A log file opened through this VFS: the default VFS's file, and the frames gathered for it.
#[repr(C)]
struct LogFile {
    /// SQLite's view: `pMethods` points at [`LOG_METHODS`].
    base: ffi::sqlite3_file,
    /// The default VFS's file, in the memory after this struct.
    inner: *mut ffi::sqlite3_file,
    /// The database file this log belongs to, while both are open; without it nothing is
    /// gathered (nothing would hand it over before the write lock is released).
    db: *mut DbFile,
    /// Appended frames not yet handed to the inner file, starting at `offset`.
    gathered: Vec<u8>,
    offset: i64,
    /// Where this log's bytes written through this file end: a write below it rewrites them.
    end: i64,
    /// The last gathered write was a frame header, and whether it was a commit's.
    after_header: Option<bool>,
}

/// Where the default VFS's file starts inside SQLite's allocation for one of ours.
const INNER_OFFSET: usize = {
    let (db, log) = (std::mem::size_of::<DbFile>(), std::mem::size_of::<LogFile>());
    (if db > log { db } else { log }).next_multiple_of(16)
};

/// Registers the VFS (once per process) and answers its name, or why it could not be.
pub(super) fn register() -> Result<&'static CStr, String> {
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
        zName: NAME.as_ptr(),
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
        code => Err(format!("registering the {NAME:?} VFS failed with SQLite code {code}")),
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
    // SAFETY: SQLite passes this VFS, and `file` points at `szOsFile` zeroed bytes, 8-aligned.
    unsafe {
        let inner_vfs = inner_vfs(vfs);
        let Some(inner_open) = (*inner_vfs).xOpen else { return ffi::SQLITE_CANTOPEN };
        if flags & (ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_MAIN_DB) == 0 {
            // A journal or a temporary file: the default VFS's, as it is.
            return inner_open(inner_vfs, name, file, flags, out_flags);
        }
        let inner = file.cast::<u8>().add(INNER_OFFSET).cast::<ffi::sqlite3_file>();
        let code = inner_open(inner_vfs, name, inner, flags, out_flags);
        if code != ffi::SQLITE_OK {
            // SQLite calls no method of a file whose open failed.
            (*file).pMethods = std::ptr::null();
            return code;
        }
        if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            let methods = if (*(*inner).pMethods).iVersion >= 3 { &DB_METHODS } else { &DB_METHODS_V1 };
            file.cast::<DbFile>().write(DbFile {
                base: ffi::sqlite3_file { pMethods: methods },
                inner,
                log: std::ptr::null_mut(),
            });
            return ffi::SQLITE_OK;
        }
        // A log: linked to its database file, which this VFS opened before it.
        let db = ffi::sqlite3_database_file_object(name);
        let db = if !db.is_null() && std::ptr::eq((*db).pMethods, &DB_METHODS) {
            db.cast::<DbFile>()
        } else {
            std::ptr::null_mut()
        };
        let log = file.cast::<LogFile>();
        log.write(LogFile {
            base: ffi::sqlite3_file { pMethods: &LOG_METHODS },
            inner,
            db,
            gathered: Vec::new(),
            offset: 0,
            end: 0,
            after_header: None,
        });
        if !db.is_null() {
            (*db).log = log;
        }
        ffi::SQLITE_OK
    }
}

/// The inner file's methods.
///
/// # Safety
/// `inner` opened successfully and is still open.
unsafe fn methods<'a>(inner: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    // SAFETY: an open file's methods are set and static.
    unsafe { &*(*inner).pMethods }
}

/// Closes the inner file.
///
/// # Safety
/// `inner` is open, and is not used again.
unsafe fn close_inner(inner: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: the caller's guarantee.
    match unsafe { methods(inner) }.xClose {
        Some(close) => unsafe { close(inner) },
        None => ffi::SQLITE_OK,
    }
}

/// # Safety
/// `file` was opened by [`open`] as a log.
unsafe fn log_file<'a>(file: *mut ffi::sqlite3_file) -> &'a mut LogFile {
    // SAFETY: only log files get `LOG_METHODS`, and SQLite calls one method of a connection's
    // files at a time (a connection is used by one thread at a time).
    unsafe { &mut *file.cast::<LogFile>() }
}

/// # Safety
/// `file` was opened by [`open`] as a main database file.
unsafe fn db_file<'a>(file: *mut ffi::sqlite3_file) -> &'a mut DbFile {
    // SAFETY: as for `log_file`.
    unsafe { &mut *file.cast::<DbFile>() }
}

impl LogFile {
    /// Hands the gathered frames to the inner file. They are done with either way: after a
    /// failure SQLite rolls the transaction back and writes its pages again from its own cache.
    fn flush(&mut self) -> c_int {
        self.after_header = None;
        if self.gathered.is_empty() {
            return ffi::SQLITE_OK;
        }
        let gathered = std::mem::take(&mut self.gathered);
        let code = self.write_through(&gathered, self.offset);
        // The buffer is kept for the next commit.
        self.gathered = gathered;
        self.gathered.clear();
        code
    }

    /// Writes `bytes` at `offset` in the inner file, at most [`MAX_WRITE`] per call.
    fn write_through(&self, bytes: &[u8], mut offset: i64) -> c_int {
        // SAFETY: the inner file is open while this one is.
        let Some(write) = (unsafe { methods(self.inner) }).xWrite else { return ffi::SQLITE_IOERR_WRITE };
        for chunk in bytes.chunks(MAX_WRITE) {
            #[cfg(test)]
            if tests::inner_write_fails() {
                return ffi::SQLITE_FULL;
            }
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
        if offset == 0 {
            // A log starting over writes its header first.
            self.end = 0;
        }
        let appends =
            offset >= self.end && (self.gathered.is_empty() || offset == self.offset + self.gathered.len() as i64);
        let frame_part = match self.after_header {
            // The write right after a gathered header: its page.
            Some(_) => true,
            None => bytes.len() == FRAME_HEADER,
        };
        if self.db.is_null() || !appends || !frame_part {
            let code = self.flush();
            if code != ffi::SQLITE_OK {
                return code;
            }
            self.end = self.end.max(offset + bytes.len() as i64);
            return self.write_through(bytes, offset);
        }
        if self.gathered.is_empty() {
            self.offset = offset;
        }
        self.gathered.extend_from_slice(bytes);
        self.end = offset + bytes.len() as i64;
        match self.after_header.take() {
            // A commit's frame header holds the database's size in pages (bytes 4..8).
            None => {
                self.after_header = Some(bytes[4..8] != [0; 4]);
                ffi::SQLITE_OK
            }
            Some(commit) if commit || self.gathered.len() >= MAX_GATHERED => self.flush(),
            Some(_) => ffi::SQLITE_OK,
        }
    }

    /// Hands the gathered frames over before an operation other than a write; a failure is an
    /// I/O error (see the module's documentation).
    fn flush_before(&mut self) -> c_int {
        match self.flush() {
            ffi::SQLITE_FULL => ffi::SQLITE_IOERR_WRITE,
            code => code,
        }
    }
}

unsafe extern "C" fn log_write(file: *mut ffi::sqlite3_file, data: *const c_void, amount: c_int, offset: i64) -> c_int {
    let Ok(amount) = usize::try_from(amount) else { return ffi::SQLITE_IOERR_WRITE };
    // SAFETY: SQLite passes a log file and `amount` readable bytes at `data`.
    let (log, bytes) = unsafe { (log_file(file), std::slice::from_raw_parts(data.cast::<u8>(), amount)) };
    log.write(bytes, offset)
}

/// Defines a log method that hands over the gathered frames, then calls the inner file's.
macro_rules! flush_then {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            // SAFETY: SQLite passes a log file opened by `open`.
            let log = unsafe { log_file(file) };
            let code = log.flush_before();
            if code != ffi::SQLITE_OK {
                return code;
            }
            // SAFETY: the inner file is open; the arguments are SQLite's.
            match unsafe { methods(log.inner) }.$method {
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
        let flushed = log.flush_before();
        if !log.db.is_null() {
            (*log.db).log = std::ptr::null_mut();
        }
        let closed = close_inner(log.inner);
        std::ptr::drop_in_place(file.cast::<LogFile>());
        if flushed != ffi::SQLITE_OK { flushed } else { closed }
    }
}

/// Defines a method that calls the inner file's: `$file` casts SQLite's file to ours.
macro_rules! forward {
    ($name:ident, $file:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty, $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> $ret {
            // SAFETY: SQLite passes a file opened by `open` as this kind, and its arguments.
            unsafe {
                let inner = $file(file).inner;
                match methods(inner).$method {
                    Some(method) => method(inner $(, $arg)*),
                    None => $missing,
                }
            }
        }
    };
}

forward!(log_sector_size, log_file, xSectorSize, () -> c_int, 4096);
forward!(log_device_characteristics, log_file, xDeviceCharacteristics, () -> c_int, 0);

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

unsafe extern "C" fn db_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite passes a database file opened by `open`, and never uses it again.
    unsafe {
        let db = db_file(file);
        if !db.log.is_null() {
            (*db.log).db = std::ptr::null_mut();
        }
        let closed = close_inner(db.inner);
        std::ptr::drop_in_place(file.cast::<DbFile>());
        closed
    }
}

unsafe extern "C" fn db_shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: SQLite passes a database file opened by `open`; its log, if linked, is open.
    unsafe {
        let db = db_file(file);
        if flags & ffi::SQLITE_SHM_UNLOCK != 0 && !db.log.is_null() {
            // Still holding the lock: whatever a rolled-back transaction left gathered goes to
            // the log beyond its last commit, where the next writer writes over it.
            #[cfg(test)]
            tests::count_unlock_hand_over(&(*db.log).gathered);
            let code = (*db.log).flush();
            if code != ffi::SQLITE_OK {
                tracing::warn!(code, "writing a rolled-back transaction's log frames failed; they were not needed");
            }
        }
        match methods(db.inner).xShmLock {
            Some(lock) => lock(db.inner, offset, n, flags),
            None => ffi::SQLITE_IOERR_SHMLOCK,
        }
    }
}

unsafe extern "C" fn db_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite passes a database file opened by `open`.
    unsafe {
        let inner = db_file(file).inner;
        if let Some(barrier) = methods(inner).xShmBarrier {
            barrier(inner);
        }
    }
}

forward!(db_read, db_file, xRead, (data: *mut c_void, amount: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_READ);
forward!(db_write, db_file, xWrite, (data: *const c_void, amount: c_int, offset: i64) -> c_int, ffi::SQLITE_IOERR_WRITE);
forward!(db_truncate, db_file, xTruncate, (size: i64) -> c_int, ffi::SQLITE_IOERR_TRUNCATE);
forward!(db_sync, db_file, xSync, (flags: c_int) -> c_int, ffi::SQLITE_IOERR_FSYNC);
forward!(db_file_size, db_file, xFileSize, (size: *mut i64) -> c_int, ffi::SQLITE_IOERR_FSTAT);
forward!(db_lock, db_file, xLock, (level: c_int) -> c_int, ffi::SQLITE_IOERR_LOCK);
forward!(db_unlock, db_file, xUnlock, (level: c_int) -> c_int, ffi::SQLITE_IOERR_UNLOCK);
forward!(db_check_reserved_lock, db_file, xCheckReservedLock, (out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK);
forward!(db_file_control, db_file, xFileControl, (op: c_int, arg: *mut c_void) -> c_int, ffi::SQLITE_NOTFOUND);
forward!(db_sector_size, db_file, xSectorSize, () -> c_int, 4096);
forward!(db_device_characteristics, db_file, xDeviceCharacteristics, () -> c_int, 0);
forward!(db_shm_map, db_file, xShmMap, (page: c_int, size: c_int, extend: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_IOERR_SHMMAP);
forward!(db_shm_unmap, db_file, xShmUnmap, (delete: c_int) -> c_int, ffi::SQLITE_OK);
forward!(db_fetch, db_file, xFetch, (offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int, ffi::SQLITE_OK);
forward!(db_unfetch, db_file, xUnfetch, (offset: i64, page: *mut c_void) -> c_int, ffi::SQLITE_OK);

/// A database file's methods, version 3 (shared memory and memory mapping), for a default VFS
/// file that has them.
static DB_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(db_close),
    xRead: Some(db_read),
    xWrite: Some(db_write),
    xTruncate: Some(db_truncate),
    xSync: Some(db_sync),
    xFileSize: Some(db_file_size),
    xLock: Some(db_lock),
    xUnlock: Some(db_unlock),
    xCheckReservedLock: Some(db_check_reserved_lock),
    xFileControl: Some(db_file_control),
    xSectorSize: Some(db_sector_size),
    xDeviceCharacteristics: Some(db_device_characteristics),
    xShmMap: Some(db_shm_map),
    xShmLock: Some(db_shm_lock),
    xShmBarrier: Some(db_shm_barrier),
    xShmUnmap: Some(db_shm_unmap),
    xFetch: Some(db_fetch),
    xUnfetch: Some(db_unfetch),
};

/// The same for a default VFS file without shared memory: SQLite then keeps no write-ahead log
/// beside it (or only in exclusive mode, with no other writer), and no log is linked to it.
static DB_METHODS_V1: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
    ..DB_METHODS
};

/// Defines a VFS method that calls the default VFS's.
macro_rules! forward_vfs {
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

forward_vfs!(delete, xDelete, (name: *const c_char, sync_dir: c_int) -> c_int, ffi::SQLITE_IOERR_DELETE);
forward_vfs!(access, xAccess, (name: *const c_char, flags: c_int, out: *mut c_int) -> c_int, ffi::SQLITE_IOERR_ACCESS);
forward_vfs!(full_pathname, xFullPathname, (name: *const c_char, size: c_int, out: *mut c_char) -> c_int, ffi::SQLITE_CANTOPEN);
forward_vfs!(dl_open, xDlOpen, (name: *const c_char) -> *mut c_void, std::ptr::null_mut());
forward_vfs!(dl_error, xDlError, (size: c_int, out: *mut c_char) -> (), ());
forward_vfs!(dl_close, xDlClose, (handle: *mut c_void) -> (), ());
forward_vfs!(randomness, xRandomness, (size: c_int, out: *mut c_char) -> c_int, 0);
forward_vfs!(sleep, xSleep, (micros: c_int) -> c_int, 0);
forward_vfs!(current_time, xCurrentTime, (out: *mut f64) -> c_int, ffi::SQLITE_ERROR);
forward_vfs!(get_last_error, xGetLastError, (size: c_int, out: *mut c_char) -> c_int, 0);
forward_vfs!(current_time_int64, xCurrentTimeInt64, (out: *mut i64) -> c_int, ffi::SQLITE_ERROR);

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
        static INNER_WRITES: Cell<u64> = const { Cell::new(0) };
        /// Releases of a shared-memory lock that found frames still gathered.
        static UNLOCK_HAND_OVERS: Cell<u64> = const { Cell::new(0) };
        /// Set, the next write to the default VFS fails as on a full disk.
        static FAIL_NEXT: Cell<bool> = const { Cell::new(false) };
    }

    /// Counts a write to the default VFS, and answers whether it fails (a full disk).
    pub(super) fn inner_write_fails() -> bool {
        INNER_WRITES.with(|writes| writes.set(writes.get() + 1));
        FAIL_NEXT.with(|fail| fail.replace(false))
    }

    pub(super) fn count_unlock_hand_over(gathered: &[u8]) {
        if !gathered.is_empty() {
            UNLOCK_HAND_OVERS.with(|count| count.set(count.get() + 1));
        }
    }

    fn unlock_hand_overs() -> u64 {
        UNLOCK_HAND_OVERS.with(Cell::get)
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

    /// A writer on `log.db` in a new temporary folder (kept while the guard lives).
    fn new_writer() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let conn = writer(&path);
        (dir, path, conn)
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
        let (_dir, path, conn) = new_writer();
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
        // Every commit was handed over at its last frame, before SQLite published it, not later
        // when the write lock was released.
        assert_eq!(unlock_hand_overs(), 0);
    }

    #[test]
    fn a_log_that_starts_over_is_gathered_again() {
        let (_dir, path, conn) = new_writer();
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
        let (_dir, path, conn) = new_writer();
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

    /// Rows `0..60` of `len` bytes written in one transaction on a page cache of 5 pages, so
    /// SQLite spills frames into the log before the transaction ends.
    fn spill(conn: &Connection, round: i64) -> rusqlite::Transaction<'_> {
        conn.execute_batch("PRAGMA cache_size = 5").unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for id in 0..60 {
            tx.execute("INSERT OR REPLACE INTO t VALUES (?1, ?2)", params![id, body(id, round, 1_500)]).unwrap();
        }
        tx
    }

    #[test]
    fn frames_of_a_rolled_back_transaction_never_land_on_another_writers_commit() {
        let (_dir, path, conn) = new_writer();
        // Another writer on the same file: another `SqliteDb` or another process.
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
        // The log starts over from its first frame, so both write the same offsets.
        let _: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0)).unwrap();
        spill(&conn, 1).rollback().unwrap();
        // The spilled frames were handed over when the rollback released the write lock.
        assert_eq!(unlock_hand_overs(), 1);
        spill(&other, 2).commit().unwrap();
        // The first writer's next operation on its log would write anything it still gathered.
        assert_eq!(conn.query_row("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0)).unwrap(), 60);
        conn.execute("INSERT INTO t VALUES (100, x'00')", []).unwrap();
        let fresh = crash_copy(&path);
        for id in 0..60 {
            assert_eq!(stored(&fresh, id), body(id, 2, 1_500), "row {id}");
        }
    }

    #[test]
    fn a_failed_hand_over_fails_the_transaction_not_just_the_statement() {
        let (_dir, path, conn) = new_writer();
        conn.execute("INSERT INTO t VALUES (1000, x'01')", []).unwrap();
        let tx = spill(&conn, 1);
        // The statement reads pages the spill left gathered: handing them over fails.
        FAIL_NEXT.with(|fail| fail.set(true));
        let failed = tx.execute("INSERT INTO t SELECT id + 2000, body FROM t", []);
        FAIL_NEXT.with(|fail| fail.set(false));
        assert!(failed.is_err());
        // SQLite rolled the whole transaction back: nothing of it can be committed (a statement
        // rolled back alone would let the transaction commit without the frames lost).
        let _ = tx.commit();
        let fresh = Connection::open(&path).unwrap();
        let check: String = fresh.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(check, "ok");
        assert_eq!(fresh.query_row("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0)).unwrap(), 1);
    }

    #[test]
    fn padded_commits_cut_at_sector_boundaries_are_handed_over_before_they_are_published() {
        // `synchronous = FULL` without power-safe overwrite: SQLite pads each commit to a sector
        // boundary with extra frames and cuts the write that crosses it in two around a sync.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let uri = format!("file:{}?psow=0", path.display());
        let conn = Connection::open_with_flags_and_vfs(&uri, OpenFlags::default(), register().unwrap()).unwrap();
        let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).unwrap();
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        )
        .unwrap();
        let other = Connection::open(&path).unwrap();
        let log_len = || std::fs::metadata(path.with_file_name("log.db-wal")).unwrap().len();
        for round in 0..6 {
            let data = body(1, round, 3_000);
            conn.execute("INSERT OR REPLACE INTO t VALUES (1, ?1)", [&data]).unwrap();
            assert_eq!(unlock_hand_overs(), 0, "round {round}");
            // Every frame SQLite published is in the file.
            let (_, frames, _): (i64, i64, i64) = other
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap();
            assert!(
                log_len() >= 32 + frames as u64 * (24 + 4096),
                "round {round}: {frames} frames, {} bytes",
                log_len()
            );
            assert_eq!(stored(&other, 1), data, "round {round}");
            if round % 2 == 1 {
                // The next commit writes the log again from its first byte.
                let _: i64 = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get(0)).unwrap();
            }
        }
        let check: String = other.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
        assert_eq!(check, "ok");
    }
}
