//! Unit tests for API roots, pagination-link resolution (site, gateway, Data Center) and the
//! authorization header of each auth kind.

use arkbridge_core::config::ConfigSecret;

use super::*;

fn cfg(url: &str) -> ConfluenceConfig {
    ConfluenceConfig {
        url: url.into(),
        flavor: ConfluenceFlavor::Cloud,
        auth: ConfluenceAuth::Basic,
        user: "bot@example.com".into(),
        token: ConfigSecret::Inline(String::new()),
        cloud_id: None,
        gateway_url: None,
        ca_cert: None,
        max_requests_per_second: None,
    }
}

fn site() -> Endpoints {
    Endpoints::new(&cfg("https://x.atlassian.net/wiki/")).unwrap()
}

fn gateway() -> Endpoints {
    Endpoints::new(&ConfluenceConfig {
        cloud_id: Some("cloud-1".into()),
        ..cfg("https://x.atlassian.net")
    })
    .unwrap()
}

fn dc() -> Endpoints {
    Endpoints::new(&ConfluenceConfig {
        flavor: ConfluenceFlavor::DataCenter,
        ..cfg("https://dc.example.com/confluence")
    })
    .unwrap()
}

#[test]
fn api_roots_per_flavor() {
    let s = site();
    assert_eq!(s.v2("/pages"), "https://x.atlassian.net/wiki/api/v2/pages");
    assert_eq!(
        s.v1("/search"),
        "https://x.atlassian.net/wiki/rest/api/search"
    );
    assert_eq!(
        s.web("/spaces/OPS"),
        "https://x.atlassian.net/wiki/spaces/OPS"
    );
    let g = gateway();
    assert_eq!(
        g.api_root(),
        "https://api.atlassian.com/ex/confluence/cloud-1"
    );
    assert_eq!(
        g.v2("/pages/1"),
        "https://api.atlassian.com/ex/confluence/cloud-1/wiki/api/v2/pages/1"
    );
    assert_eq!(g.site(), "https://x.atlassian.net");
    assert_eq!(g.web("/x/ab"), "https://x.atlassian.net/wiki/x/ab");
    let d = dc();
    assert_eq!(
        d.v1("/content/1"),
        "https://dc.example.com/confluence/rest/api/content/1"
    );
    assert_eq!(
        d.web("/display/OPS/Home"),
        "https://dc.example.com/confluence/display/OPS/Home"
    );
    // A Data Center context path called `/wiki` is kept.
    let d = Endpoints::new(&ConfluenceConfig {
        flavor: ConfluenceFlavor::DataCenter,
        ..cfg("https://dc.example.com/wiki")
    })
    .unwrap();
    assert_eq!(d.v1(""), "https://dc.example.com/wiki/rest/api");
    let own_gateway = Endpoints::new(&ConfluenceConfig {
        cloud_id: Some("c2".into()),
        gateway_url: Some("https://127.0.0.1:8443/".into()),
        ..cfg("https://127.0.0.1:8443")
    })
    .unwrap();
    assert_eq!(
        own_gateway.api_root(),
        "https://127.0.0.1:8443/ex/confluence/c2"
    );
}

#[test]
fn site_links_resolve_on_the_site() {
    let s = site();
    let cur = "https://x.atlassian.net/wiki/api/v2/pages?limit=5";
    for (link, want) in [
        (
            "/wiki/api/v2/pages?cursor=abc",
            "https://x.atlassian.net/wiki/api/v2/pages?cursor=abc",
        ),
        (
            "https://x.atlassian.net/wiki/api/v2/pages?cursor=2",
            "https://x.atlassian.net/wiki/api/v2/pages?cursor=2",
        ),
        (
            "pages?cursor=3",
            "https://x.atlassian.net/wiki/api/v2/pages?cursor=3",
        ),
        (
            "/rest/api/search?cql=type%3Dpage&cursor=c",
            "https://x.atlassian.net/wiki/rest/api/search?cql=type%3Dpage&cursor=c",
        ),
    ] {
        assert_eq!(s.resolve(cur, link).unwrap(), want, "{link}");
    }
    for bad in [
        "https://evil.example.com/wiki/api/v2/pages",
        "//evil.example.com/wiki",
        "http://x.atlassian.net/wiki/api/v2/pages",
        "",
    ] {
        assert!(s.resolve(cur, bad).is_err(), "{bad}");
    }
}

#[test]
fn gateway_links_are_reprefixed() {
    let g = gateway();
    let cur = "https://api.atlassian.com/ex/confluence/cloud-1/wiki/api/v2/pages";
    let root = "https://api.atlassian.com/ex/confluence/cloud-1";
    for (link, want) in [
        (
            "/wiki/api/v2/pages?cursor=abc",
            format!("{root}/wiki/api/v2/pages?cursor=abc"),
        ),
        (
            "/ex/confluence/cloud-1/wiki/api/v2/pages?cursor=d",
            format!("{root}/wiki/api/v2/pages?cursor=d"),
        ),
        (
            "/rest/api/search?cql=x&cursor=e",
            format!("{root}/wiki/rest/api/search?cql=x&cursor=e"),
        ),
        (
            "https://x.atlassian.net/wiki/api/v2/pages?cursor=f",
            format!("{root}/wiki/api/v2/pages?cursor=f"),
        ),
        (
            "https://api.atlassian.com/wiki/api/v2/pages?cursor=g",
            format!("{root}/wiki/api/v2/pages?cursor=g"),
        ),
    ] {
        assert_eq!(g.resolve(cur, link).unwrap(), want, "{link}");
    }
    assert!(
        g.resolve(cur, "https://y.atlassian.net/wiki/api/v2/pages")
            .is_err()
    );
}

#[test]
fn data_center_links_keep_the_context_path() {
    let d = dc();
    let cur = "https://dc.example.com/confluence/rest/api/content?start=0&limit=25";
    assert_eq!(
        d.resolve(cur, "/rest/api/content?start=25&limit=25")
            .unwrap(),
        "https://dc.example.com/confluence/rest/api/content?start=25&limit=25"
    );
    assert_eq!(
        d.resolve(cur, "/confluence/rest/api/content/scan?cursor=x")
            .unwrap(),
        "https://dc.example.com/confluence/rest/api/content/scan?cursor=x"
    );
    assert!(
        d.resolve(cur, "https://other.example.com/rest/api/content")
            .is_err()
    );
}

#[test]
fn bad_gateway_settings_are_config_errors() {
    let dc_with_cloud_id = ConfluenceConfig {
        flavor: ConfluenceFlavor::DataCenter,
        cloud_id: Some("abc".into()),
        ..cfg("https://dc.example.com")
    };
    assert!(matches!(
        Endpoints::new(&dc_with_cloud_id),
        Err(ConfluenceError::Config(_))
    ));
    let bad_id = ConfluenceConfig {
        cloud_id: Some("../x".into()),
        ..cfg("https://x.atlassian.net")
    };
    assert!(Endpoints::new(&bad_id).is_err());
}

#[test]
fn authorization_headers_per_kind() {
    let token = SecretString::from("tok-hunter2");
    let basic = Credentials::new(ConfluenceAuth::Basic, "bot@example.com", &token).unwrap();
    // base64("bot@example.com:tok-hunter2")
    assert_eq!(
        basic.header().to_str().unwrap(),
        "Basic Ym90QGV4YW1wbGUuY29tOnRvay1odW50ZXIy"
    );
    assert!(basic.header().is_sensitive());
    assert!(!format!("{:?}", basic.header()).contains("Ym90"));
    let pat = Credentials::new(ConfluenceAuth::Pat, "", &token).unwrap();
    assert_eq!(pat.header().to_str().unwrap(), "Bearer tok-hunter2");
    pat.replace(&SecretString::from("fresh")).unwrap();
    assert_eq!(pat.header().to_str().unwrap(), "Bearer fresh");
    assert!(pat.replace(&SecretString::from("")).is_err());
    assert_eq!(pat.header().to_str().unwrap(), "Bearer fresh");
    for (kind, user, secret) in [
        (ConfluenceAuth::Basic, "", "t"),
        (ConfluenceAuth::Basic, "a:b", "t"),
        (ConfluenceAuth::Basic, "a", ""),
        (ConfluenceAuth::Oauth, "a", "t"),
        (ConfluenceAuth::Oauth, "", "two words"),
        (ConfluenceAuth::Pat, "", "line\nbreak"),
    ] {
        let err = Credentials::new(kind, user, &SecretString::from(secret))
            .err()
            .unwrap_or_else(|| panic!("{kind:?} {user:?} should be refused"));
        assert!(
            !err.to_string().contains(secret) || secret.len() < 2,
            "{err}"
        );
    }
}
