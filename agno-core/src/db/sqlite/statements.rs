//! The writer thread's connection, with the two statements every save runs prepared once and
//! kept for the thread's life.
//!
//! rusqlite's statement cache finds a statement by its SQL: each use trims and hashes the text,
//! and handing the statement back copies the text into a new key, hashes it again and clears
//! the bindings. The upserts of a save are 600-byte statements run for every saved run, and on
//! the load bench that bookkeeping was 5,300 of the writer's 47,200 instructions per run
//! (callgrind), on the one thread every save waits for. Other writes are rare and keep using the
//! cache.

use std::cell::RefCell;
use std::ops::Deref;

use rusqlite::{Connection, PrepFlags, Statement};

use super::schema::{UPSERT_RUN, UPSERT_SESSION};

/// A statement the writer keeps prepared.
#[derive(Clone, Copy)]
pub(super) enum Held {
    /// [`UPSERT_SESSION`].
    UpsertSession,
    /// [`UPSERT_RUN`].
    UpsertRun,
}

impl Held {
    fn sql(self) -> &'static str {
        match self {
            Self::UpsertSession => UPSERT_SESSION,
            Self::UpsertRun => UPSERT_RUN,
        }
    }
}

/// The writer's connection and its kept statements, each prepared at its first use. It
/// dereferences to the connection for every other statement.
pub(super) struct WriterConn<'c> {
    conn: &'c Connection,
    upsert_session: RefCell<Option<Statement<'c>>>,
    upsert_run: RefCell<Option<Statement<'c>>>,
}

impl<'c> WriterConn<'c> {
    /// Wraps the writer's connection; nothing is prepared yet.
    pub(super) fn new(conn: &'c Connection) -> Self {
        Self { conn, upsert_session: RefCell::new(None), upsert_run: RefCell::new(None) }
    }

    /// Runs `use_it` on the kept statement `held`. Every use binds all of its parameters, so the
    /// values of the previous use never leak into the next.
    pub(super) fn with<T>(
        &self,
        held: Held,
        use_it: impl FnOnce(&mut Statement<'c>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let slot = match held {
            Held::UpsertSession => &self.upsert_session,
            Held::UpsertRun => &self.upsert_run,
        };
        let Ok(mut kept) = slot.try_borrow_mut() else {
            // Only a nested use of the same statement gets here: it runs on a statement of its own.
            let mut statement = self.conn.prepare(held.sql())?;
            return use_it(&mut statement);
        };
        let statement = match &mut *kept {
            Some(statement) => statement,
            empty => empty.insert(self.conn.prepare_with_flags(held.sql(), PrepFlags::SQLITE_PREPARE_PERSISTENT)?),
        };
        use_it(statement)
    }
}

impl Deref for WriterConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::schema::SCHEMA).unwrap();
        conn
    }

    /// Runs the session upsert: `session_type` `None` breaks its NOT NULL constraint.
    fn upsert(
        statement: &mut Statement<'_>,
        id: &str,
        kind: Option<&str>,
        user: Option<&str>,
    ) -> rusqlite::Result<usize> {
        let none = None::<String>;
        statement.execute(params![id, kind, "a", user, none, none, none, 1, 2, none, none, none, none])
    }

    fn insert_session(writer: &WriterConn<'_>, id: &str, user: Option<&str>) -> rusqlite::Result<usize> {
        writer.with(Held::UpsertSession, |statement| upsert(statement, id, Some("agent"), user))
    }

    #[test]
    fn a_kept_statement_is_prepared_once_and_runs_with_each_use_s_values() {
        let conn = table();
        let writer = WriterConn::new(&conn);
        assert_eq!(insert_session(&writer, "s1", Some("alice")).unwrap(), 1);
        assert_eq!(insert_session(&writer, "s2", None).unwrap(), 1);
        // The ownership guard of the kept upsert still refuses another user's session.
        assert_eq!(insert_session(&writer, "s1", Some("bob")).unwrap(), 0);
        let rows: Vec<(String, Option<String>)> = conn
            .prepare("SELECT session_id, user_id FROM agno_sessions ORDER BY session_id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("s1".to_owned(), Some("alice".to_owned())), ("s2".to_owned(), None)]);
        assert!(writer.upsert_session.borrow().is_some());
        assert!(writer.upsert_run.borrow().is_none(), "a statement is prepared at its first use only");
    }

    #[test]
    fn a_nested_use_of_the_same_statement_runs_on_a_statement_of_its_own() {
        let conn = table();
        let writer = WriterConn::new(&conn);
        let inner = writer.with(Held::UpsertSession, |outer| {
            upsert(outer, "s1", Some("agent"), None)?;
            insert_session(&writer, "s2", None)
        });
        assert_eq!(inner.unwrap(), 1);
        let count: i64 = conn.query_row("SELECT count(*) FROM agno_sessions", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 2);
    }

    #[test]
    fn a_failed_use_leaves_the_kept_statement_usable() {
        let conn = table();
        let writer = WriterConn::new(&conn);
        let failed = writer.with(Held::UpsertSession, |statement| upsert(statement, "s1", None, None));
        assert!(failed.is_err());
        assert_eq!(insert_session(&writer, "s1", None).unwrap(), 1);
    }
}
