//! JSON a caller serialised already, handed to [`Db::save_runs_with_json`](super::Db::save_runs_with_json)
//! so that a backend storing JSON text writes it as it is.

use std::borrow::Cow;

use serde_json::Value;

use super::DbError;
use crate::session::Session;

/// JSON text the caller has serialised already: the last run's (which a server answering with
/// the run needs anyway) and, optionally, the session row's two JSON columns that change with
/// every run. A column given here replaces the session's own value, which the caller leaves out
/// (`None`). Every text must be valid JSON.
///
/// A backend that stores text writes it as it is; any other gets the session to save from
/// [`SavedJson::session`].
///
/// ```
/// use agno_core::Session;
/// use agno_core::db::SavedJson;
/// use serde_json::json;
///
/// let session = Session::new("s1"); // its `session_data` and `agent_data` left out
/// let json = SavedJson::new(r#"{"run_id":"r1"}"#)
///     .with_session_data(r#"{"session_state":{"n":1}}"#)
///     .with_runner_data(r#"{"agent_id":"a1","model":null,"name":null}"#);
/// let full = json.session(&session).unwrap();
/// assert_eq!(full.session_data, Some(json!({"session_state": {"n": 1}})));
/// assert_eq!(full.agent_data, Some(json!({"agent_id": "a1", "model": null, "name": null})));
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SavedJson<'a> {
    /// `serde_json`'s text of the last run saved.
    pub last_run: &'a str,
    /// The session's `session_data` column (`{"session_state": …}`).
    pub session_data: Option<&'a str>,
    /// The column of the session's runner: `agent_data`, `team_data` or `workflow_data`, by the
    /// session's type.
    pub runner_data: Option<&'a str>,
}

impl<'a> SavedJson<'a> {
    /// The last run's text alone: the session's columns are in the session.
    pub fn new(last_run: &'a str) -> Self {
        Self { last_run, session_data: None, runner_data: None }
    }

    /// With the session's `session_data` column as text.
    #[must_use]
    pub fn with_session_data(mut self, text: &'a str) -> Self {
        self.session_data = Some(text);
        self
    }

    /// With the column of the session's runner as text.
    #[must_use]
    pub fn with_runner_data(mut self, text: &'a str) -> Self {
        self.runner_data = Some(text);
        self
    }

    /// `session` with the columns given here parsed back into it: what a backend that does not
    /// store text saves. `session` itself when no column is given; an error when a text is not
    /// JSON.
    pub fn session<'s>(&self, session: &'s Session) -> Result<Cow<'s, Session>, DbError> {
        if self.session_data.is_none() && self.runner_data.is_none() {
            return Ok(Cow::Borrowed(session));
        }
        let parse = |text: Option<&str>| text.map(serde_json::from_str::<Value>).transpose();
        let mut session = session.clone();
        if let Some(value) = parse(self.session_data)? {
            session.session_data = Some(value);
        }
        if let Some(value) = parse(self.runner_data)? {
            let column =
                session.session_type.pick(&mut session.agent_data, &mut session.team_data, &mut session.workflow_data);
            *column = Some(value);
        }
        Ok(Cow::Owned(session))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::session::SessionType;

    #[test]
    fn the_given_columns_are_parsed_into_the_runners_column() {
        let mut session = Session::new("s1");
        session.session_type = SessionType::Team;
        let json = SavedJson::new("{}")
            .with_session_data(r#"{"session_state":{"n":1}}"#)
            .with_runner_data(r#"{"team_id":"t"}"#);
        let complete = json.session(&session).unwrap();
        assert_eq!(complete.session_data, Some(json!({"session_state": {"n": 1}})));
        assert_eq!(complete.team_data, Some(json!({"team_id": "t"})));
        assert_eq!(complete.agent_data, None);
        // Without columns, the session as it is.
        assert!(matches!(SavedJson::new("{}").session(&session).unwrap(), Cow::Borrowed(_)));
        // Text that is not JSON is an error, not a silent `NULL`.
        assert!(SavedJson::new("{}").with_runner_data("{").session(&session).is_err());
    }
}
