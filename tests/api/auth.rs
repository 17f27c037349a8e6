//! Authentication and authorization of the legacy REST routes (design §5, §9): which
//! tokens are accepted, which are refused and how, the order of the 401/403/422 checks,
//! `DEMO_MODE`, `JWT_ISSUER`/`JWT_AUDIENCE`, and CORS for the front end's origin.

use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use reqwest::{Method, header};
use serde_json::json;

use crate::helpers::{
    app::{Options, Response, TestApp, spawn_app, spawn_with},
    db::Backend,
    jwt::{SECRET, bearer, now, server_signed, sign, valid_for_an_hour},
};
use crate::on_both_backends;

on_both_backends!(
    no_authorization_header_is_401_with_a_bearer_challenge,
    malformed_authorization_headers_are_401,
    unverifiable_tokens_are_401,
    expired_token_is_401_token_has_expired,
    token_without_exp_is_401,
    alg_none_token_is_401,
    hs512_token_with_the_right_secret_is_401,
    user_id_comes_from_the_first_non_blank_of_sub_user_id_id,
    token_without_a_usable_user_id_is_401,
    old_front_end_demo_token_is_401_asking_for_a_signed_jwt,
    refused_tokens_cannot_create_tasks,
    token_for_another_user_is_403,
    authentication_is_checked_before_ownership,
    ownership_is_checked_before_the_body,
    demo_mode_lets_anonymous_requests_act_as_demo_user,
    demo_mode_still_refuses_bad_tokens,
    without_demo_mode_anonymous_requests_are_401,
    configured_audience_is_enforced,
    configured_issuer_is_enforced,
    without_configured_audience_or_issuer_any_is_accepted,
    cors_preflight_allows_the_frontend_origin_only,
    cors_origins_adds_to_the_allow_list,
);

fn assert_ok_list(res: &Response, what: &str) {
    assert_eq!(res.status, 200, "{what}: {}", res.text);
    assert!(res.body["tasks"].is_array(), "{what}: {}", res.text);
}

async fn no_authorization_header_is_401_with_a_bearer_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.get_tasks_with_authorization("alice", None).await;
    res.assert_unauthorized("no header");
}

async fn malformed_authorization_headers_are_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let valid = app.token("alice");
    for header in [
        "Basic abc".to_owned(),
        format!("Basic {valid}"),
        "Bearer".to_owned(),
        "Bearer    ".to_owned(),
        format!("Token {valid}"),
    ] {
        let res = app
            .get_tasks_with_authorization("alice", Some(&header))
            .await;
        res.assert_unauthorized(&format!("Authorization: {header:?}"));
    }
    // The same token in the proper form is fine: the scheme was the problem.
    assert_ok_list(&app.get_tasks_with_token("alice", &valid).await, "Bearer");
    assert_ok_list(
        &app.get_tasks_with_authorization("alice", Some(&format!("bearer {valid}")))
            .await,
        "lower-case scheme",
    );
}

async fn unverifiable_tokens_are_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let claims = valid_for_an_hour(json!({ "sub": "alice" }));
    let valid = server_signed(claims.clone());
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, _signature) = rest.split_once('.').unwrap();
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        ("three garbage parts", "abc.def.ghi".to_owned()),
        (
            "wrong secret",
            sign(Algorithm::HS256, "some-other-secret", claims.clone()),
        ),
        ("signature removed", format!("{head}.{payload}.")),
        (
            "payload swapped for bob's",
            format!(
                "{head}.{}.{}",
                URL_SAFE_NO_PAD.encode(valid_for_an_hour(json!({"sub": "bob"})).to_string()),
                valid.rsplit('.').next().unwrap()
            ),
        ),
    ];
    for (what, token) in cases {
        app.get_tasks_with_token("alice", &token)
            .await
            .assert_unauthorized(what);
    }
    assert_ok_list(&app.get_tasks_with_token("alice", &valid).await, "control");
}

async fn expired_token_is_401_token_has_expired(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = server_signed(json!({ "sub": "alice", "exp": now() - 120 }));
    let res = app.get_tasks_with_token("alice", &token).await;
    res.assert_unauthorized("expired");
    assert_eq!(res.body["message"], "Token has expired", "{}", res.text);
}

async fn token_without_exp_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = server_signed(json!({ "sub": "alice", "iat": now() }));
    app.get_tasks_with_token("alice", &token)
        .await
        .assert_unauthorized("no exp");
}

async fn alg_none_token_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(valid_for_an_hour(json!({"sub": "alice"})).to_string());
    let token = format!("{header}.{claims}.");
    app.get_tasks_with_token("alice", &token)
        .await
        .assert_unauthorized("alg none");
}

async fn hs512_token_with_the_right_secret_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = sign(
        Algorithm::HS512,
        SECRET,
        valid_for_an_hour(json!({"sub": "alice"})),
    );
    app.get_tasks_with_token("alice", &token)
        .await
        .assert_unauthorized("HS512");
}

async fn user_id_comes_from_the_first_non_blank_of_sub_user_id_id(backend: Backend) {
    let app = spawn_app(backend).await;
    for (what, claims) in [
        ("sub alone", json!({"sub": "alice"})),
        ("userId alone", json!({"userId": "alice"})),
        ("id alone", json!({"id": "alice"})),
        ("empty sub, userId", json!({"sub": "", "userId": "alice"})),
        ("blank sub, id", json!({"sub": "   ", "id": "alice"})),
        ("numeric sub, userId", json!({"sub": 42, "userId": "alice"})),
        (
            "sub before userId",
            json!({"sub": "alice", "userId": "bob"}),
        ),
        ("userId before id", json!({"userId": "alice", "id": "bob"})),
    ] {
        let token = server_signed(valid_for_an_hour(claims));
        assert_ok_list(&app.get_tasks_with_token("alice", &token).await, what);
        // The token is alice's, not bob's: bob's path is someone else's.
        let res = app.get_tasks_with_token("bob", &token).await;
        assert_eq!(res.status, 403, "{what} on bob's path: {}", res.text);
    }
}

async fn token_without_a_usable_user_id_is_401(backend: Backend) {
    let app = spawn_app(backend).await;
    for (what, claims) in [
        ("empty sub", json!({"sub": ""})),
        (
            "blank sub, userId, id",
            json!({"sub": " ", "userId": "", "id": "\t"}),
        ),
        ("numeric sub", json!({"sub": 42})),
        ("no id claim", json!({"name": "alice"})),
    ] {
        let token = server_signed(valid_for_an_hour(claims));
        app.get_tasks_with_token("alice", &token)
            .await
            .assert_unauthorized(what);
    }
}

async fn old_front_end_demo_token_is_401_asking_for_a_signed_jwt(backend: Backend) {
    let app = spawn_app(backend).await;
    // `btoa(JSON.stringify({userId, sub, exp}))`, as the last Next.js front end builds it.
    let payload = json!({ "userId": "alice", "sub": "alice", "exp": now() + 3600 });
    let token = STANDARD.encode(payload.to_string());
    let res = app.get_tasks_with_token("alice", &token).await;
    res.assert_unauthorized("demo token");
    let message = res.body["message"].as_str().unwrap();
    assert!(message.contains("signed JWT"), "message: {message}");
}

async fn refused_tokens_cannot_create_tasks(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({ "title": "sneaky" });
    let expired = server_signed(json!({ "sub": "alice", "exp": now() - 120 }));
    let wrong_secret = sign(
        Algorithm::HS256,
        "some-other-secret",
        valid_for_an_hour(json!({"sub": "alice"})),
    );
    for (what, authorization) in [
        ("no header", None),
        ("expired", Some(bearer(&expired))),
        ("wrong secret", Some(bearer(&wrong_secret))),
    ] {
        let res = app
            .post_task_with_authorization("alice", authorization.as_deref(), body.clone())
            .await;
        res.assert_unauthorized(what);
    }
    let task = app.create_titled("alice", "mine").await;
    let res = app
        .send(
            Method::DELETE,
            &app.task_url("alice", &task["id"]),
            None,
            None,
        )
        .await;
    res.assert_unauthorized("delete without a token");

    let page = app.get_tasks("alice", "").await;
    assert_eq!(page.body["total_count"], 1, "{}", page.text);
    assert_eq!(page.body["tasks"][0]["title"], "mine", "{}", page.text);
}

async fn token_for_another_user_is_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .call(Method::GET, &app.tasks_url("bob"), "alice", None)
        .await;
    res.assert_error(403, "forbidden");
    let res = app
        .call(
            Method::POST,
            &app.tasks_url("bob"),
            "alice",
            Some(json!({ "title": "for bob" })),
        )
        .await;
    res.assert_error(403, "forbidden");
    let page = app.get_tasks("bob", "").await;
    assert_eq!(page.body["total_count"], 0, "{}", page.text);
}

async fn authentication_is_checked_before_ownership(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get_tasks_with_authorization("bob", None)
        .await
        .assert_unauthorized("no token, bob's path");
    let expired = server_signed(json!({ "sub": "alice", "exp": now() - 120 }));
    app.get_tasks_with_token("bob", &expired)
        .await
        .assert_unauthorized("expired token, bob's path");
}

async fn ownership_is_checked_before_the_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app
        .call(
            Method::POST,
            &app.tasks_url("bob"),
            "alice",
            Some(json!({ "title": "" })),
        )
        .await;
    res.assert_error(403, "forbidden");
    let res = app
        .send(
            Method::PUT,
            &app.task_url("bob", "not-a-number"),
            Some(&bearer(&app.token("alice"))),
            Some(json!({ "completed": "maybe" })),
        )
        .await;
    res.assert_error(403, "forbidden");
}

async fn demo_mode_lets_anonymous_requests_act_as_demo_user(backend: Backend) {
    let app = spawn_with(backend, Options::with_env(&[("DEMO_MODE", "true")])).await;
    let res = app
        .post_task_with_authorization("demo-user", None, json!({"title": "try it"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["user_id"], "demo-user");

    let res = app.get_tasks_with_authorization("demo-user", None).await;
    assert_ok_list(&res, "demo-user list");
    assert_eq!(res.body["total_count"], 1, "{}", res.text);
    assert_eq!(res.body["tasks"][0]["title"], "try it");

    // demo-user may touch only its own data.
    app.get_tasks_with_authorization("alice", None)
        .await
        .assert_error(403, "forbidden");
    let res = app
        .post_task_with_authorization("alice", None, json!({"title": "x"}))
        .await;
    res.assert_error(403, "forbidden");
    // A real token still works as its own user.
    assert_ok_list(&app.get_tasks("alice", "").await, "alice");
}

async fn demo_mode_still_refuses_bad_tokens(backend: Backend) {
    let app = spawn_with(backend, Options::with_env(&[("DEMO_MODE", "true")])).await;
    let expired = server_signed(json!({ "sub": "demo-user", "exp": now() - 120 }));
    for (what, header) in [
        ("garbage", "Bearer not-a-jwt".to_owned()),
        ("expired", bearer(&expired)),
        ("empty Bearer", "Bearer".to_owned()),
        ("Basic", "Basic abc".to_owned()),
    ] {
        app.get_tasks_with_authorization("demo-user", Some(&header))
            .await
            .assert_unauthorized(what);
    }
}

async fn without_demo_mode_anonymous_requests_are_401(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get_tasks_with_authorization("demo-user", None)
        .await
        .assert_unauthorized("list");
    let res = app
        .post_task_with_authorization("demo-user", None, json!({"title": "x"}))
        .await;
    res.assert_unauthorized("create");
}

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "https://api.example.com";

async fn configured_audience_is_enforced(backend: Backend) {
    let app = spawn_with(backend, Options::with_env(&[("JWT_AUDIENCE", AUDIENCE)])).await;
    assert_ok_list(&app.get_tasks("alice", "").await, "minted");
    for (what, aud) in [
        ("matching string", json!(AUDIENCE)),
        ("array containing it", json!(["other", AUDIENCE])),
    ] {
        let token = server_signed(valid_for_an_hour(json!({"sub": "alice", "aud": aud})));
        assert_ok_list(&app.get_tasks_with_token("alice", &token).await, what);
    }
    for (what, claims) in [
        ("no aud", json!({"sub": "alice"})),
        (
            "wrong aud",
            json!({"sub": "alice", "aud": "https://evil.example"}),
        ),
        (
            "array without it",
            json!({"sub": "alice", "aud": ["a", "b"]}),
        ),
        ("empty array", json!({"sub": "alice", "aud": []})),
    ] {
        let token = server_signed(valid_for_an_hour(claims));
        app.get_tasks_with_token("alice", &token)
            .await
            .assert_unauthorized(what);
    }
}

async fn configured_issuer_is_enforced(backend: Backend) {
    let app = spawn_with(
        backend,
        Options::with_env(&[("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", AUDIENCE)]),
    )
    .await;
    assert_ok_list(&app.get_tasks("alice", "").await, "minted");
    let good = server_signed(valid_for_an_hour(
        json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE}),
    ));
    assert_ok_list(&app.get_tasks_with_token("alice", &good).await, "iss + aud");
    for (what, claims) in [
        ("no iss", json!({"sub": "alice", "aud": AUDIENCE})),
        (
            "wrong iss",
            json!({"sub": "alice", "iss": "https://evil.example", "aud": AUDIENCE}),
        ),
        ("right iss, no aud", json!({"sub": "alice", "iss": ISSUER})),
    ] {
        let token = server_signed(valid_for_an_hour(claims));
        app.get_tasks_with_token("alice", &token)
            .await
            .assert_unauthorized(what);
    }
}

async fn without_configured_audience_or_issuer_any_is_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    // Better Auth always sets `aud` (and `iss`): they must not be refused by default.
    for (what, claims) in [
        (
            "aud string",
            json!({"sub": "alice", "aud": "http://localhost:3000"}),
        ),
        ("aud array", json!({"sub": "alice", "aud": ["a", "b"]})),
        (
            "iss and aud",
            json!({"sub": "alice", "iss": "http://localhost:3000", "aud": "http://localhost:3000"}),
        ),
    ] {
        let token = server_signed(valid_for_an_hour(claims));
        assert_ok_list(&app.get_tasks_with_token("alice", &token).await, what);
    }
}

/// A CORS preflight for `POST /api/alice/tasks` from `origin`; returns its allow-origin.
async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let res = app
        .http
        .request(Method::OPTIONS, app.tasks_url("alice"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "preflight status {}",
        res.status()
    );
    res.headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn cors_preflight_allows_the_frontend_origin_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let front = "http://localhost:3000";
    assert_eq!(preflight(&app, front).await.as_deref(), Some(front));
    assert_eq!(preflight(&app, "https://evil.example").await, None);
    assert_eq!(preflight(&app, "http://localhost:3001").await, None);

    // The front end must be able to read a 401, not just see a CORS failure.
    let res = app
        .http
        .get(app.tasks_url("alice"))
        .header(header::ORIGIN, front)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap()),
        Some(front)
    );
}

async fn cors_origins_adds_to_the_allow_list(backend: Backend) {
    let app = spawn_with(
        backend,
        Options::with_env(&[("CORS_ORIGINS", "https://a.example,https://b.example")]),
    )
    .await;
    for origin in ["https://a.example", "https://b.example"] {
        assert_eq!(preflight(&app, origin).await.as_deref(), Some(origin));
    }
    assert_eq!(preflight(&app, "https://c.example").await, None);
    // FRONTEND_ORIGIN's default stays on the list.
    let front = "http://localhost:3000";
    assert_eq!(preflight(&app, front).await.as_deref(), Some(front));
}
