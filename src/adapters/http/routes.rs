//! What the registered routes declare, for the middleware: the methods each path allows, which
//! paths need a bearer token, and which query parameters the API reads. Read from the OpenAPI
//! operations once, so it cannot drift from the routes.

use std::collections::HashSet;
use std::sync::OnceLock;

use poem::http::Method;
use poem::http::header::HeaderValue;
use poem_openapi::registry::MetaParamIn;

use super::Apis;

/// Routes served outside the OpenAPI document (all `GET`).
pub(crate) const PLAIN_GET_ROUTES: [&str; 5] =
    ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"];

/// Query parameters read outside the operations' declared parameters (the SAML redirect
/// binding parses its signed query itself).
const UNDECLARED_QUERY: [&str; 4] = ["SAMLRequest", "RelayState", "SigAlg", "Signature"];

/// One path: its template split into segments (`None` matches any one segment), its `Allow`
/// header, and whether its operations need a bearer token.
struct RouteInfo {
    segments: Vec<Option<String>>,
    allow: HeaderValue,
    bearer: bool,
}

struct Table {
    routes: Vec<RouteInfo>,
    query: HashSet<String>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut paths: Vec<(String, Vec<Method>, bool)> = Vec::new();
        let mut query: HashSet<String> = UNDECLARED_QUERY.iter().map(|q| (*q).to_owned()).collect();
        let api_paths = <Apis as poem_openapi::OpenApi>::meta()
            .into_iter()
            .flat_map(|api| api.paths);
        let plain = PLAIN_GET_ROUTES
            .iter()
            .map(|p| ((*p).to_owned(), vec![Method::GET], false));
        for (path, methods, bearer) in api_paths
            .map(|p| {
                let bearer = p.operations.iter().any(|op| !op.security.is_empty());
                for op in &p.operations {
                    query.extend(
                        op.params
                            .iter()
                            .filter(|param| param.in_type == MetaParamIn::Query)
                            .map(|param| param.name.clone()),
                    );
                }
                let methods = p.operations.iter().map(|op| op.method.clone()).collect();
                (p.path, methods, bearer)
            })
            .chain(plain)
        {
            match paths.iter_mut().find(|(p, _, _)| *p == path) {
                Some((_, known, known_bearer)) => {
                    known.extend(methods);
                    *known_bearer |= bearer;
                }
                None => paths.push((path, methods, bearer)),
            }
        }
        let routes = paths
            .into_iter()
            .filter_map(|(path, mut methods, bearer)| {
                if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
                    methods.push(Method::HEAD);
                }
                let allow = methods
                    .iter()
                    .map(Method::as_str)
                    .collect::<Vec<_>>()
                    .join(", ");
                let segments = path
                    .split('/')
                    .map(|s| {
                        let param = (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':');
                        (!param).then(|| s.to_owned())
                    })
                    .collect();
                Some(RouteInfo {
                    segments,
                    allow: HeaderValue::from_str(&allow).ok()?,
                    bearer,
                })
            })
            .collect();
        Table { routes, query }
    })
}

fn route(path: &str) -> Option<&'static RouteInfo> {
    let segments: Vec<&str> = path.split('/').collect();
    table().routes.iter().find(|route| {
        route.segments.len() == segments.len()
            && route.segments.iter().zip(&segments).all(|(t, s)| match t {
                Some(literal) => literal == s,
                None => !s.is_empty(),
            })
    })
}

/// The `Allow` header for a path (RFC 9110 §15.5.6: a 405 must list the methods the resource
/// supports). `HEAD` is listed with `GET` because the router answers it from the `GET` handler.
pub(crate) fn allowed_methods(path: &str) -> Option<HeaderValue> {
    route(path).map(|r| r.allow.clone())
}

/// Whether the path's operations need a bearer token.
pub(crate) fn bearer_protected(path: &str) -> bool {
    route(path).is_some_and(|r| r.bearer)
}

/// Whether some operation reads a query parameter of this name.
pub(crate) fn is_query_parameter(name: &str) -> bool {
    table().query.contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_knows_methods_bearer_paths_and_query_names() {
        let allow = allowed_methods("/me/client_credentials").unwrap();
        let mut listed: Vec<&str> = allow.to_str().unwrap().split(", ").collect();
        listed.sort_unstable();
        assert_eq!(listed, ["GET", "HEAD", "POST"]);
        assert!(allowed_methods("/nope").is_none());
        assert!(bearer_protected("/me"));
        assert!(bearer_protected("/me/groups"));
        assert!(bearer_protected("/me/groups/0000/members"));
        assert!(bearer_protected("/oauth2/userinfo"));
        assert!(!bearer_protected("/oauth2/token"));
        assert!(!bearer_protected("/oauth2/introspect"));
        assert!(!bearer_protected("/healthz"));
        for name in ["client_callback", "limit", "offset", "code", "SAMLRequest"] {
            assert!(is_query_parameter(name), "{name}");
        }
        assert!(!is_query_parameter("x"));
    }
}
