//! Evaluations: [`AgentAsJudgeEval`], a post-hook that asks a judge model whether a run's output
//! meets criteria, and stores the verdict in the database's `agno_eval_runs` table.
//!
//! ```
//! use agno_core::db::{Db, EvalRunQuery, InMemoryDb};
//! use agno_core::eval::{AgentAsJudgeEval, ScoringStrategy};
//! use agno_core::models::OfflineModel;
//! use agno_core::prelude::*;
//! use std::sync::Arc;
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! let db = Arc::new(InMemoryDb::new());
//! let eval = AgentAsJudgeEval::builder()
//!     .name("Response Quality Check")
//!     .criteria("The response answers the question politely")
//!     .scoring_strategy(ScoringStrategy::Numeric)
//!     .threshold(7)
//!     .model(OfflineModel::new()) // the judge; default: models::default_model()
//!     .on_fail(|e| eprintln!("failed: {}", e.reason))
//!     .build()
//!     .unwrap();
//! let agent = Agent::builder().db(db.clone()).post_hook(eval).build().unwrap();
//! agent.run("Hello").await.unwrap();
//! let stored = db.get_eval_runs(&EvalRunQuery::default()).await.unwrap();
//! assert_eq!(stored[0].eval_type, "agent_as_judge");
//! assert_eq!(stored[0].eval_data["passed"], true);
//! # });
//! ```

mod agent_as_judge;

pub use agent_as_judge::{
    AgentAsJudgeEval, AgentAsJudgeEvalBuilder, AgentAsJudgeEvaluation, EVAL_TYPE_AGENT_AS_JUDGE, EvalError, OnFail,
    ScoringStrategy,
};
