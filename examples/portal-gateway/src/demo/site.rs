//! The demo against a real JSM site: the `JSM_*` variables, turned into the same `[jsm]`
//! table a configuration file has (so the client is built by the one code path in
//! [`crate::serve`]), and the site's portals, request forms and organizations read at start.

use jsm_sso_core::CodedError;
use jsm_sso_jira::{JiraClient, Site};

use crate::Error;
use crate::config::Problem;
use crate::gateway::RequestForm;

/// The site's URL (`https://acme.atlassian.net`, a Data Center base URL, or
/// `https://api.atlassian.com/ex/jira/{cloudId}` with an OAuth access token).
pub const BASE_URL: &str = "JSM_BASE_URL";
/// The Atlassian account's email (Cloud, with [`API_TOKEN`]).
pub const EMAIL: &str = "JSM_EMAIL";
/// That account's API token (Cloud basic auth).
pub const API_TOKEN: &str = "JSM_API_TOKEN";
/// A Data Center personal access token.
pub const PAT: &str = "JSM_PAT";
/// An OAuth 2.0 (3LO) access token (Cloud through `api.atlassian.com`).
pub const ACCESS_TOKEN: &str = "JSM_ACCESS_TOKEN";
/// Optional: the service desk ids the sample policy grants, comma-separated (one or two).
pub const PORTALS: &str = "JSM_DEMO_PORTALS";

/// The organizations the sample policy names; created on the site when absent.
pub(super) const ORGANIZATIONS: [&str; 2] = ["Acme Corp", "Globex"];

/// Request types offered per portal (the first ones whose required fields are all text).
const FORMS_PER_PORTAL: usize = 3;
/// Request types looked at per portal: the start stays short on a site with many, and ends
/// on one whose paging never does.
const REQUEST_TYPES_SCANNED: usize = 20;
/// Organizations looked through for the policy's names (100 pages of 50), for the same
/// reasons; past it nothing is created, so a name further on is never duplicated.
const ORGANIZATIONS_SCANNED: usize = 5_000;

/// A real JSM site for the demo instead of JSM in memory.
#[derive(Debug, Clone)]
pub struct JsmSite {
    /// The client: the site and the credentials the demo acts with.
    pub client: JiraClient,
    /// The service desk ids the sample policy grants: the first is every company's help
    /// portal, the second (if any) Globex's billing portal. Empty: the site's first two
    /// service desks.
    pub portals: Vec<String>,
}

impl JsmSite {
    /// A site whose first two service desks the sample policy grants.
    #[must_use]
    pub fn new(client: JiraClient) -> Self {
        Self {
            client,
            portals: Vec::new(),
        }
    }

    /// Reads the `JSM_*` variables: `None` when `JSM_BASE_URL` is unset (the demo keeps
    /// JSM in memory).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `JSM_BASE_URL` is set without credentials (or credentials
    /// without it), with two kinds of credentials, with an unusable URL, or with a
    /// malformed `JSM_DEMO_PORTALS`: never a silent fallback to memory.
    pub fn from_env() -> Result<Option<Self>, Error> {
        let Some((table, portals)) =
            jsm_table(&|name| std::env::var(name).ok()).map_err(Error::Config)?
        else {
            return Ok(None);
        };
        let client = crate::serve::jira_client_from(&table)
            .map_err(|problems| Error::Config(problems.into_iter().map(env_location).collect()))?;
        Ok(Some(Self { client, portals }))
    }

    /// Which JSM this is, for the banner: the URL and the kind of credentials, never a
    /// token.
    #[must_use]
    pub fn describe(&self) -> String {
        match self.client.site() {
            Site::Cloud(url) => format!("{} (Jira Cloud, email + API token)", trim(url)),
            Site::DataCenter(url) => {
                format!("{} (Data Center, personal access token)", trim(url))
            }
            Site::OAuth { cloud_id, gateway } => format!(
                "{}/ex/jira/{cloud_id} (Jira Cloud, OAuth access token)",
                trim(gateway)
            ),
            _ => "a JSM site".to_owned(),
        }
    }
}

fn trim(url: &url::Url) -> &str {
    url.as_str().trim_end_matches('/')
}

fn problem(code: &'static str, at: &str, message: String, hint: &'static str) -> Problem {
    Problem::new(code, at.to_owned(), message, hint)
}

fn coded(at: &str, e: &(impl CodedError + std::fmt::Display)) -> Problem {
    Problem::new(e.code(), at.to_owned(), e.to_string(), e.hint())
}

/// A `[jsm]` key's problem, relocated to the variable the demo read it from.
fn env_location(mut p: Problem) -> Problem {
    p.location = match p.location.as_str() {
        "jsm.email_env" | "jsm.email" => EMAIL,
        "jsm.api_token_env" => API_TOKEN,
        "jsm.token_env" => PAT,
        "jsm.access_token_env" => ACCESS_TOKEN,
        _ => BASE_URL,
    }
    .to_owned();
    p
}

const CREDENTIALS_HINT: &str = "with JSM_BASE_URL set, also export JSM_EMAIL and JSM_API_TOKEN (Jira Cloud), JSM_PAT (Data Center) or JSM_ACCESS_TOKEN (OAuth); unset JSM_BASE_URL to run with JSM in memory";

/// The `[jsm]` table the variables describe (variable names in its `_env` keys, so the
/// secrets are read where a configuration file's are), and the portal ids; `None` without
/// `JSM_BASE_URL`.
pub(super) fn jsm_table(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<(toml::Table, Vec<String>)>, Vec<Problem>> {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let Some(url) = set(BASE_URL) else {
        let stray: Vec<&str> = [API_TOKEN, PAT, ACCESS_TOKEN, PORTALS]
            .into_iter()
            .filter(|v| set(v).is_some())
            .collect();
        if stray.is_empty() {
            return Ok(None);
        }
        return Err(vec![problem(
            "config.env.missing",
            BASE_URL,
            format!(
                "{} set but JSM_BASE_URL is not, so the demo does not know which site to use",
                stray.join(", ")
            ),
            "export JSM_BASE_URL with the site's URL, or unset the JSM_* variables to run with JSM in memory",
        )]);
    };
    let url = url.trim().to_owned();
    let mut problems = Vec::new();
    let portals = portal_ids(set(PORTALS), &mut problems);
    let cloud = set(EMAIL).is_some() || set(API_TOKEN).is_some();
    let kinds: Vec<&str> = [(cloud, "cloud"), (set(PAT).is_some(), "data_center")]
        .into_iter()
        .chain([(set(ACCESS_TOKEN).is_some(), "cloud_oauth")])
        .filter_map(|(present, kind)| present.then_some(kind))
        .collect();
    let mut table = toml::Table::new();
    let mut put = |key: &str, value: &str| {
        table.insert(key.to_owned(), toml::Value::String(value.to_owned()));
    };
    match kinds.as_slice() {
        [] => problems.push(problem(
            "config.env.missing",
            BASE_URL,
            "JSM_BASE_URL is set but no credentials are".into(),
            CREDENTIALS_HINT,
        )),
        ["cloud"] => {
            put("kind", "cloud");
            put("site_url", &url);
            put("email_env", EMAIL);
            put("api_token_env", API_TOKEN);
        }
        ["data_center"] => {
            put("kind", "data_center");
            put("site_url", &url);
            put("token_env", PAT);
        }
        ["cloud_oauth"] => match oauth_cloud_id(&url) {
            Some(cloud_id) => {
                put("kind", "cloud_oauth");
                put("cloud_id", &cloud_id);
                put("access_token_env", ACCESS_TOKEN);
            }
            None => problems.push(problem(
                "config.env.invalid",
                BASE_URL,
                format!(
                    "{url} is not https://api.atlassian.com/ex/jira/<cloud id>, where an OAuth access token is used"
                ),
                "set JSM_BASE_URL to https://api.atlassian.com/ex/jira/<cloud id> (the site's id from accessible-resources), or use JSM_EMAIL and JSM_API_TOKEN with the site's own URL",
            )),
        },
        several => problems.push(problem(
            "config.env.conflict",
            BASE_URL,
            format!(
                "credentials for more than one kind of site are set ({})",
                several.join(", ")
            ),
            "keep one of JSM_EMAIL + JSM_API_TOKEN, JSM_PAT or JSM_ACCESS_TOKEN",
        )),
    }
    if problems.is_empty() {
        Ok(Some((table, portals)))
    } else {
        Err(problems)
    }
}

/// The cloud id of `https://api.atlassian.com/ex/jira/{cloudId}`.
fn oauth_cloud_id(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let gateway = url::Url::parse(jsm_sso_jira::auth::OAUTH_GATEWAY).ok()?;
    if parsed.origin() != gateway.origin() || parsed.query().is_some() {
        return None;
    }
    let segments: Vec<&str> = parsed.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["ex", "jira", id] => Some((*id).to_owned()),
        _ => None,
    }
}

fn portal_ids(value: Option<String>, problems: &mut Vec<Problem>) -> Vec<String> {
    let Some(value) = value else {
        return Vec::new();
    };
    let ids: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let numeric = ids.iter().all(|id| id.bytes().all(|b| b.is_ascii_digit()));
    let distinct = ids.first() != ids.get(1);
    if ids.is_empty() || ids.len() > 2 || !numeric || !distinct {
        problems.push(problem(
            "config.env.invalid",
            PORTALS,
            format!("{value:?} is not one or two distinct service desk ids"),
            "set JSM_DEMO_PORTALS to one or two service desk ids, comma-separated (the number in the portal's URL, /servicedesk/customer/portal/ID), or unset it to use the site's first two",
        ));
        return Vec::new();
    }
    ids
}

/// One portal the demo grants, with its forms.
#[derive(Debug, Clone)]
pub(super) struct Portal {
    /// The service desk id.
    pub id: String,
    /// Its name (the project's).
    pub name: String,
    /// The request forms offered.
    pub forms: Vec<RequestForm>,
}

/// Reads the portals from the site (proving the URL and credentials before the first
/// sign-in) and makes sure the policy's organizations exist there.
pub(super) async fn discover(site: &JsmSite) -> Result<Vec<Portal>, Error> {
    let client = &site.client;
    let desks = if site.portals.is_empty() {
        let mut pager = client.service_desks();
        let mut desks = Vec::new();
        while desks.len() < 2 {
            match pager.next().await {
                Some(Ok(desk)) => desks.push(desk),
                Some(Err(e)) => return Err(Error::Config(vec![coded(BASE_URL, &e)])),
                None => break,
            }
        }
        if desks.is_empty() {
            return Err(Error::Config(vec![problem(
                "config.value.invalid",
                BASE_URL,
                "the site has no service desk the credentials can see".into(),
                "create a service management project on the site, or act as an agent of one",
            )]));
        }
        desks
    } else {
        let mut desks = Vec::new();
        for id in &site.portals {
            desks.push(
                client
                    .service_desk(id)
                    .await
                    .map_err(|e| Error::Config(vec![coded(PORTALS, &e)]))?,
            );
        }
        desks
    };
    let mut portals = Vec::new();
    for desk in desks {
        let forms = forms(client, &desk.id)
            .await
            .map_err(|e| Error::Config(vec![coded(&format!("portal {}", desk.id), &e)]))?;
        let name = if desk.project_name.is_empty() {
            format!("Portal {}", desk.id)
        } else {
            desk.project_name
        };
        portals.push(Portal {
            id: desk.id,
            name,
            forms,
        });
    }
    ensure_organizations(client)
        .await
        .map_err(|e| Error::Config(vec![coded("organizations", &e)]))?;
    Ok(portals)
}

/// The desk's first request types whose required fields the gateway's text inputs can
/// fill; each asks for its summary, description and other required fields.
async fn forms(client: &JiraClient, desk: &str) -> Result<Vec<RequestForm>, jsm_sso_jira::Error> {
    let mut types = client.request_types(desk)?;
    let mut forms = Vec::new();
    for _ in 0..REQUEST_TYPES_SCANNED {
        if forms.len() == FORMS_PER_PORTAL {
            break;
        }
        let Some(rt) = types.next().await.transpose()? else {
            break;
        };
        let fields = client.request_type_fields(desk, &rt.id).await?;
        let text = |f: &jsm_sso_jira::model::RequestTypeField| {
            f.jira_schema
                .as_ref()
                .and_then(|s| s.get("type"))
                .and_then(serde_json::Value::as_str)
                .is_none_or(|t| t == "string")
        };
        let fields = fields.request_type_fields;
        if fields.iter().any(|f| f.required && !text(f)) {
            continue;
        }
        let show: Vec<String> = fields
            .iter()
            .filter(|f| {
                f.visible != Some(false)
                    && (f.required || matches!(f.field_id.as_str(), "summary" | "description"))
            })
            .map(|f| f.field_id.clone())
            .collect();
        forms.push(RequestForm {
            id: rt.id,
            name: rt.name,
            show,
            fill: Default::default(),
        });
    }
    Ok(forms)
}

async fn ensure_organizations(client: &JiraClient) -> Result<(), jsm_sso_jira::Error> {
    let mut missing: Vec<&str> = ORGANIZATIONS.to_vec();
    let mut pager = client.organizations();
    for _ in 0..ORGANIZATIONS_SCANNED {
        if missing.is_empty() {
            return Ok(());
        }
        match pager.next().await.transpose()? {
            Some(org) => missing.retain(|name| *name != org.name),
            None => {
                for name in missing {
                    client.create_organization(name).await?;
                }
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn table(vars: &[(&str, &str)]) -> Result<Option<(toml::Table, Vec<String>)>, Vec<Problem>> {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        jsm_table(&|name| vars.get(name).cloned())
    }

    fn code(vars: &[(&str, &str)]) -> (&'static str, String) {
        let problems = table(vars).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        (problems[0].code, problems[0].location.clone())
    }

    #[test]
    fn without_a_base_url_the_demo_keeps_jsm_in_memory() {
        assert!(table(&[]).unwrap().is_none());
        assert!(table(&[(BASE_URL, "  ")]).unwrap().is_none());
        // An email alone is common in shells and names no site.
        assert!(table(&[(EMAIL, "a@b.example")]).unwrap().is_none());
    }

    #[test]
    fn a_token_without_a_base_url_is_refused() {
        for var in [API_TOKEN, PAT, ACCESS_TOKEN, PORTALS] {
            assert_eq!(
                code(&[(var, "x")]),
                ("config.env.missing", BASE_URL.to_owned())
            );
        }
    }

    #[test]
    fn a_base_url_without_credentials_is_refused() {
        assert_eq!(
            code(&[(BASE_URL, "https://acme.atlassian.net")]),
            ("config.env.missing", BASE_URL.to_owned())
        );
    }

    #[test]
    fn each_kind_of_credentials_names_its_variables() {
        let (t, portals) = table(&[
            (BASE_URL, "https://acme.atlassian.net"),
            (EMAIL, "bot@acme.example"),
            (API_TOKEN, "t"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(t["kind"].as_str(), Some("cloud"));
        assert_eq!(t["site_url"].as_str(), Some("https://acme.atlassian.net"));
        assert_eq!(t["api_token_env"].as_str(), Some(API_TOKEN));
        assert!(portals.is_empty());
        // Only variable names go into the table, never a secret.
        assert!(!toml::to_string(&t).unwrap().contains("\"t\""));

        let (t, _) = table(&[(BASE_URL, "https://jira.acme.example/jira"), (PAT, "p")])
            .unwrap()
            .unwrap();
        assert_eq!(t["kind"].as_str(), Some("data_center"));
        assert_eq!(t["token_env"].as_str(), Some(PAT));

        let (t, _) = table(&[
            (BASE_URL, "https://api.atlassian.com/ex/jira/1a2b-3c/"),
            (ACCESS_TOKEN, "a"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(t["kind"].as_str(), Some("cloud_oauth"));
        assert_eq!(t["cloud_id"].as_str(), Some("1a2b-3c"));
    }

    #[test]
    fn an_access_token_only_goes_to_the_oauth_gateway() {
        for url in [
            "https://acme.atlassian.net",
            "http://api.atlassian.com/ex/jira/abc",
            "https://api.atlassian.com.evil.example/ex/jira/abc",
            "https://api.atlassian.com/ex/jira",
            "https://api.atlassian.com/ex/jira/abc/more",
        ] {
            assert_eq!(
                code(&[(BASE_URL, url), (ACCESS_TOKEN, "a")]),
                ("config.env.invalid", BASE_URL.to_owned()),
                "{url}"
            );
        }
    }

    #[test]
    fn two_kinds_of_credentials_conflict() {
        assert_eq!(
            code(&[
                (BASE_URL, "https://acme.atlassian.net"),
                (API_TOKEN, "t"),
                (PAT, "p"),
            ]),
            ("config.env.conflict", BASE_URL.to_owned())
        );
    }

    #[test]
    fn demo_portals_are_one_or_two_distinct_desk_ids() {
        let ok = |v: &str| {
            table(&[(BASE_URL, "https://x.example"), (PAT, "p"), (PORTALS, v)])
                .map(|t| t.unwrap().1)
        };
        assert_eq!(ok(" 4, 7 ").unwrap(), vec!["4", "7"]);
        assert_eq!(ok("4").unwrap(), vec!["4"]);
        for bad in ["1,2,3", "HELP", "4,4", " , "] {
            let problems = ok(bad).unwrap_err();
            assert_eq!(problems[0].code, "config.env.invalid", "{bad}");
            assert_eq!(problems[0].location, PORTALS);
        }
    }

    #[test]
    fn library_problems_move_to_the_variable_they_came_from() {
        let moved = env_location(Problem::new(
            "config.env.missing",
            "jsm.email_env".into(),
            "m".into(),
            "h",
        ));
        assert_eq!(moved.location, EMAIL);
        let moved = env_location(Problem::new(
            "jira.config",
            "jsm.site_url".into(),
            "m".into(),
            "h",
        ));
        assert_eq!(moved.location, BASE_URL);
    }
}
