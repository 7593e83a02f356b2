//! Design notes: why the client behaves as it does. No code.
//!
//! # Which calls are retried
//!
//! | call | method | retried on 429 / 5xx / timeout / reset | why |
//! | --- | --- | --- | --- |
//! | every GET, PUT, DELETE | | yes | idempotent by HTTP semantics |
//! | create customer | POST | yes | sent with `strictConflictStatusCode=true`: a repeat whose first try was applied gets 409, which [`ensure_customer`](crate::JiraClient::ensure_customer) turns into a look-up, so no duplicate account |
//! | add organization members, add service desk customers, attach organization | POST | yes | set semantics: adding what is there is a 204 |
//! | create organization | POST | no | a repeat could meet "name exists" after an applied first try, or create a twin on a site that allows it |
//! | create request | POST | no | a repeat raises a second ticket |
//! | any call whose connection could not be made | | yes | nothing reached the server |
//! | any call answered 401 with an [`Auth::OAuth`](crate::Auth::OAuth) token source | | once, at once, with a fresh token | a refused token changed nothing |
//! | a 412 on an experimental endpoint | | never | the opt-in header is missing: a bug, not weather |
//!
//! # How long it waits
//!
//! A server hint wins: `Retry-After` (seconds or an HTTP date), else `X-RateLimit-Reset`
//! (an ISO 8601 instant, measured against the injected [`Clock`](jsm_sso_core::Clock)),
//! plus up to [`hint_jitter`](crate::retry::RetryPolicy::hint_jitter) so that workers told
//! the same instant spread out (without it, 32 workers told "1 s" return together and empty
//! the server's bucket again). A hint longer than
//! [`max_hint`](crate::retry::RetryPolicy::max_hint) is handed back as
//! [`Error::RateLimited`](crate::Error::RateLimited) instead of being slept through. Without a
//! hint: full jitter, `uniform(0, min(60 s, 1 s * 2^retry))`. All waiting goes through the
//! [`Sleeper`](crate::retry::Sleeper) seam, so tests record waits instead of sitting them out.
//!
//! # Staying at the limit
//!
//! Reacting to 429s alone wastes most of the allowance: every refused request costs a
//! whole `Retry-After`. [`max_requests_per_second`](crate::JiraClientBuilder::max_requests_per_second)
//! spaces requests evenly just under a known limit; with
//! [`adaptive_pacing`](crate::JiraClientBuilder::adaptive_pacing) the rate is a ceiling the
//! client backs off from (to 85 %, once per burst of 429s) and grows back to (2 % a second).
//! The concurrency limit bounds requests in flight; sleeping retries do not hold a slot.
//!
//! # One directory, three ways in
//!
//! [`MemoryJsm`](crate::memory::MemoryJsm) is a JSM site, not a mock of the client: it
//! answers HTTP requests the way JSM does. [`MemoryJsm::directory`](crate::memory::MemoryJsm::directory)
//! is [`JsmDirectory`](crate::JsmDirectory) on an in-process transport, and the tests serve
//! the same site over a real socket to core's reqwest transport; one behaviour suite runs on
//! both and on core's `MemoryDirectory`. The contract test checks the other side: every
//! request the client can make passes Prism's validation against Atlassian's spec, and every
//! example answer in the spec decodes.
//!
//! # Where the broker's bookkeeping lives
//!
//! JSM has no API for customer detail fields, so field values go to one user property
//! ([`FIELDS_PROPERTY`](crate::directory::FIELDS_PROPERTY), a merged JSON object) and the last
//! sign-in to another ([`LAST_SEEN_PROPERTY`](crate::directory::LAST_SEEN_PROPERTY)). An
//! organization whose memberships the broker manages carries
//! [`MANAGED_PROPERTY`](crate::directory::MANAGED_PROPERTY). Removing a customer lists their
//! organizations with `GET /organization?accountId=`, so no membership list has to be kept.
