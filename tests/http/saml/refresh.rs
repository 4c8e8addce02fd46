//! IdP metadata from a URL is fetched again: a provider whose metadata could not be fetched at
//! startup starts working when it can, and an IdP's certificate rollover is followed without
//! a restart.

use std::sync::{Arc, Mutex};

use poem::web::Data;
use poem::{EndpointExt, Route, get, handler};
use reqwest::StatusCode;

use super::harness::*;
use super::post_acs;
use crate::support::*;
use crate::upstream::harness::{reserve_port, spawn_on};

type Served = Arc<Mutex<Option<String>>>;

/// The metadata the test currently serves; 503 while there is none.
#[handler]
fn metadata(Data(served): Data<&Served>) -> poem::Response {
    match served.lock().unwrap().clone() {
        Some(xml) => poem::Response::builder()
            .content_type("application/samlmetadata+xml")
            .body(xml),
        None => poem::Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .finish(),
    }
}

/// Polls `check` until it holds (the refresh runs every second here); panics after 30 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..150 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("{what} never happened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_from_a_url_is_fetched_again() {
    let Some(pki) = Pki::generate("refresh") else {
        return;
    };
    let served: Served = Arc::new(Mutex::new(None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let idp = Route::new()
        .at("/metadata", get(metadata))
        .data(served.clone());
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(idp));

    let app = spawn_on(
        reserve_port(),
        &format!(
            "[providers]\nsaml_metadata_refresh_secs = 1\n\n[providers.saml.idp]\n\
             idp_metadata_url = \"{url}\"\nsp_key_file = \"{}\"\nsp_certificate_file = \"{}\"\n\
             allow_idp_initiated = true\n",
            pki.path("sp.key").display(),
            pki.path("sp.crt").display()
        ),
    )
    .await;
    let initialized = || async {
        let list = json_checked(app.get("/saml/providers").await, "get", "/saml/providers").await;
        list["providers"][0]["initialized"] == true
    };
    assert!(!initialized().await, "no metadata at startup");
    let login = |who: &'static str| {
        let app = &app;
        let pki = &pki;
        async move {
            let signed = Assertion::new(&app.public, None, "hana").signed(pki, who);
            post_acs(app, &signed, None).await.status()
        }
    };

    // The metadata becomes available: the provider starts working without a restart.
    *served.lock().unwrap() = Some(pki.idp_metadata(true));
    eventually("initialization", initialized).await;
    assert_eq!(login("idp").await, StatusCode::OK);
    assert_eq!(login("rogue").await, StatusCode::UNAUTHORIZED);

    // The IdP rolls its signing certificate over.
    let rolled = pki
        .idp_metadata(true)
        .replace(&pki.cert_b64("idp"), &pki.cert_b64("rogue"));
    *served.lock().unwrap() = Some(rolled);
    eventually("the rollover", || async {
        login("rogue").await == StatusCode::OK
    })
    .await;
    assert_eq!(login("idp").await, StatusCode::UNAUTHORIZED);

    // Metadata that breaks (no signing certificate, or gone) keeps the last usable one.
    *served.lock().unwrap() = Some(pki.idp_metadata(false));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    *served.lock().unwrap() = None;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(initialized().await);
    assert_eq!(login("rogue").await, StatusCode::OK);
}
