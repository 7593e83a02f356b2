#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! | item | what |
//! | --- | --- |
//! | [`load_str`], [`load_file`], [`Format`] | read and compile a policy |
//! | [`CompiledPolicy`] | the immutable, indexed policy; [`CompiledPolicy::evaluate`], `why_not`, `dry_run` |
//! | [`Evaluation`], [`Explanation`] | a decision with matched rules, near misses, grants, warnings |
//! | [`PolicyHandle`] | hot reload: validated in full, swapped atomically |
//! | [`Error`], [`Diagnostic`] | load-time problems with `file:line:column` and stable codes |
//! | [`json_schema`] | the JSON Schema of the format, for editors |
#![forbid(unsafe_code)]

mod api;
mod check;
mod compiled;
mod domain;
mod error;
mod eval;
mod index;
mod load;
mod located;
mod model;
mod name;
mod pattern;
mod template;
mod troubleshoot;

pub use api::{Format, PolicyHandle, load_file, load_str};
pub use compiled::CompiledPolicy;
pub use error::{Diagnostic, Diagnostics, Error, Location, Problem, Severity};
pub use eval::{
    ConditionHit, Evaluation, Explanation, Grant, MAX_NEAR_MISSES, NearMiss, RuleMatch, Warning,
};
pub use load::{
    ALWAYS_CHECKED_WARNING, MAX_DIAGNOSTICS, MAX_LIST_LEN, MAX_POLICY_BYTES, MAX_RULES,
};
pub use name::Name;
pub use template::{Missing, Template, TemplateError, TemplateValues};
pub use troubleshoot::{MembershipPlan, Memberships, Target, WhyNot};

/// The JSON Schema (draft 2020-12) of the policy format, pretty-printed, for editor
/// completion of JSON and YAML policies (and TOML through taplo). The repository keeps a
/// copy in `docs/policy.schema.json`.
#[must_use]
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(model::PolicyFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
