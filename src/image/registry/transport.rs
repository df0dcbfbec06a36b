//! The HTTP underneath the client: one request with the 401 challenge answered (basic or
//! bearer token), status codes mapped to errors, transport failures named.

use reqwest::header::{LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode, Url};

use super::auth::{Challenge, parse_challenge, token_from_response};
use super::error::error_body_message;
use super::{Credentials, RegistryClient, RegistryError};

impl RegistryClient {
    pub(super) fn url(&self, path: &str) -> Result<Url, RegistryError> {
        Url::parse(&format!("{}{path}", self.base)).map_err(|e| self.protocol(e.to_string()))
    }

    pub(super) fn protocol(&self, message: String) -> RegistryError {
        RegistryError::Protocol {
            registry: self.registry.clone(),
            message,
        }
    }

    /// The upload session's next URL; registries may answer with a relative one.
    pub(super) fn location(&self, resp: Response) -> Result<Url, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.protocol("an upload answer has no Location header".into()))?;
        self.url("/")?
            .join(loc)
            .map_err(|e| self.protocol(format!("bad Location `{loc}`: {e}")))
    }

    pub(super) async fn body(&self, resp: Response) -> Result<Vec<u8>, RegistryError> {
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| self.transport(e))
    }

    pub(super) fn transport(&self, e: reqwest::Error) -> RegistryError {
        if e.is_connect() || e.is_timeout() {
            // The innermost cause says "Connection refused", which is what users search for.
            let mut detail = e.to_string();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(s) = src {
                detail = s.to_string();
                src = s.source();
            }
            RegistryError::Unreachable {
                registry: self.registry.clone(),
                detail,
            }
        } else {
            self.protocol(e.to_string())
        }
    }

    /// Maps an error status to an error; passes 1xx-3xx through.
    pub(super) async fn check(
        &self,
        resp: Response,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let status = resp.status();
        if !(status.is_client_error() || status.is_server_error()) {
            return Ok(resp);
        }
        let body = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let mut message = error_body_message(&body);
        if status == StatusCode::METHOD_NOT_ALLOWED {
            // What read-only registries and pull-through caches answer to a push.
            message.push_str(" (the registry does not accept this here: read-only, or a mirror?)");
        }
        let (registry, what) = (self.registry.clone(), what.to_string());
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
                registry,
                what,
                status: status.as_u16(),
                message: format!(": {message}"),
            },
            StatusCode::NOT_FOUND => RegistryError::NotFound { registry, what },
            _ => RegistryError::Refused {
                registry,
                what,
                status: status.as_u16(),
                message,
            },
        })
    }

    /// Sends one request, answering a 401 challenge once: basic credentials, or a bearer
    /// token fetched from the challenge's realm and cached per repository scope.
    pub(super) async fn send(
        &self,
        method: Method,
        url: &str,
        repo: Option<&str>,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<Response, RegistryError> {
        let push = !matches!(method, Method::GET | Method::HEAD);
        let scope = repo.map(|r| {
            let actions = if push { "pull,push" } else { "pull" };
            format!("repository:{r}:{actions}")
        });
        let key = scope.clone().unwrap_or_default();
        for attempt in 0..2 {
            let mut req = self.http.request(method.clone(), url);
            for (name, value) in headers {
                req = req.header(*name, value.as_str());
            }
            if let Some(b) = body {
                req = req.body(b.to_vec());
            }
            let (token, basic) = {
                let state = self.auth.lock().unwrap_or_else(|p| p.into_inner());
                (state.tokens.get(&key).cloned(), state.basic)
            };
            req = match (&token, &self.credentials) {
                (Some(t), _) => req.bearer_auth(t),
                (None, Credentials::Basic { user, password }) if basic => {
                    req.basic_auth(user, Some(password))
                }
                _ => req,
            };
            let resp = req.send().await.map_err(|e| self.transport(e))?;
            if resp.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge);
            match challenge {
                Some(Challenge::Basic) if self.credentials != Credentials::Anonymous => {
                    self.auth.lock().unwrap_or_else(|p| p.into_inner()).basic = true;
                }
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope: asked,
                }) => {
                    let want = asked.or_else(|| scope.clone());
                    let token = self
                        .fetch_token(&realm, service.as_deref(), want.as_deref())
                        .await?;
                    let mut state = self.auth.lock().unwrap_or_else(|p| p.into_inner());
                    state.tokens.insert(key.clone(), token);
                }
                _ => return Ok(resp),
            }
        }
        Err(self.protocol("authentication did not settle".into()))
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<String, RegistryError> {
        let mut url = Url::parse(realm)
            .map_err(|e| self.protocol(format!("bad token realm `{realm}`: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            if let Some(s) = scope {
                q.append_pair("scope", s);
            }
        }
        let mut req = self.http.get(url);
        if let Credentials::Basic { user, password } = &self.credentials {
            req = req.basic_auth(user, Some(password));
        }
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let what = format!("a token from {realm}");
        let resp = self.check(resp, &what).await?;
        let body = self.body(resp).await?;
        token_from_response(&body)
            .ok_or_else(|| self.protocol(format!("{what}: the answer holds no token")))
    }
}
