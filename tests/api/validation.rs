//! Bad input on the legacy task routes: every malformed body, query or path is a 422
//! with the JSON error body (naming the field at fault) and writes nothing; checks run
//! in the contract's order (401, 403, 422, 404); unknown routes, wrong methods and
//! oversized bodies get the JSON error body too.

use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::helpers::{Backend, Response, TestApp, spawn_app};
use crate::on_both_backends;

on_both_backends!(
    blank_or_missing_title_is_rejected,
    title_length_is_counted_in_characters,
    description_length_is_counted_in_characters,
    bad_priority_or_due_date_is_rejected,
    wrong_json_types_are_rejected,
    a_body_that_is_not_a_json_object_is_rejected,
    an_array_body_is_rejected_on_every_route,
    a_malformed_body_names_no_field,
    update_rejects_null_for_required_fields,
    update_rejects_bad_values_and_changes_nothing,
    complete_requires_a_boolean,
    list_rejects_bad_query_params,
    a_non_integer_task_id_is_rejected,
    checks_run_in_the_contract_order,
    unknown_routes_and_methods_get_json_errors,
    an_oversized_body_is_413_with_a_json_body,
);

/// Sends `body` as raw bytes labelled JSON, as `user`.
async fn send_raw(app: &TestApp, method: Method, url: &str, user: &str, body: &str) -> Response {
    let res = app
        .http
        .request(method, url)
        .bearer_auth(app.token(user))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    Response::from(res).await
}

async fn task_count(app: &TestApp, user: &str) -> i64 {
    let res = app.get(&app.tasks_url(user), user).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["total_count"].as_i64().unwrap()
}

/// POSTs a raw body for alice: expects a 422 `invalid`, and no task written.
async fn rejected_create(app: &TestApp, body: &str) -> Response {
    let before = task_count(app, "alice").await;
    let res = send_raw(app, Method::POST, &app.tasks_url("alice"), "alice", body).await;
    res.assert_error(422, "invalid");
    assert_eq!(
        task_count(app, "alice").await,
        before,
        "a rejected create wrote a task: {body}"
    );
    res
}

/// Like `rejected_create`, and the error names `field`.
async fn rejected_create_of_field(app: &TestApp, body: Value, field: &str) {
    let res = rejected_create(app, &body.to_string()).await;
    assert_eq!(res.body["field"], field, "{body}: {}", res.text);
}

async fn blank_or_missing_title_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;

    rejected_create_of_field(&app, json!({ "title": "" }), "title").await;
    rejected_create_of_field(&app, json!({ "title": "   " }), "title").await;
    rejected_create_of_field(&app, json!({ "title": " \t\n " }), "title").await;
    rejected_create_of_field(&app, json!({}), "title").await;
    rejected_create_of_field(&app, json!({ "description": "no title" }), "title").await;
    rejected_create_of_field(&app, json!({ "title": null }), "title").await;

    assert_eq!(task_count(&app, "alice").await, 0);
}

async fn title_length_is_counted_in_characters(backend: Backend) {
    let app = spawn_app(backend).await;

    // 255 two-byte characters: 510 bytes, yet within the limit.
    let longest = "é".repeat(255);
    let task = app.create_titled("alice", &longest).await;
    assert_eq!(task["title"], longest.as_str(), "stored as sent");
    app.create_titled("alice", &"a".repeat(255)).await;

    rejected_create_of_field(&app, json!({ "title": "é".repeat(256) }), "title").await;
    rejected_create_of_field(&app, json!({ "title": "a".repeat(256) }), "title").await;

    assert_eq!(task_count(&app, "alice").await, 2);
}

async fn description_length_is_counted_in_characters(backend: Backend) {
    let app = spawn_app(backend).await;

    let longest = "é".repeat(1000);
    let task = app
        .create_task("alice", json!({ "title": "t", "description": longest }))
        .await;
    assert_eq!(task["description"], longest.as_str());

    rejected_create_of_field(
        &app,
        json!({ "title": "t", "description": "é".repeat(1001) }),
        "description",
    )
    .await;
    rejected_create_of_field(
        &app,
        json!({ "title": "t", "description": "a".repeat(1001) }),
        "description",
    )
    .await;

    assert_eq!(task_count(&app, "alice").await, 1);
}

async fn bad_priority_or_due_date_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;

    for priority in ["urgent", "", "medium"] {
        rejected_create_of_field(
            &app,
            json!({ "title": "t", "priority": priority }),
            "priority",
        )
        .await;
    }
    for due_date in ["tomorrow", "2026-13-01T00:00:00", "2026-02-30T10:00:00", ""] {
        rejected_create_of_field(
            &app,
            json!({ "title": "t", "due_date": due_date }),
            "due_date",
        )
        .await;
    }

    assert_eq!(task_count(&app, "alice").await, 0);
}

async fn wrong_json_types_are_rejected(backend: Backend) {
    let app = spawn_app(backend).await;

    rejected_create_of_field(&app, json!({ "title": 5 }), "title").await;
    rejected_create_of_field(&app, json!({ "title": ["a"] }), "title").await;
    rejected_create_of_field(
        &app,
        json!({ "title": "t", "completed": "yes" }),
        "completed",
    )
    .await;
    rejected_create_of_field(&app, json!({ "title": "t", "completed": 1 }), "completed").await;
    rejected_create_of_field(&app, json!({ "title": "t", "priority": 1 }), "priority").await;
    rejected_create_of_field(
        &app,
        json!({ "title": "t", "description": 5 }),
        "description",
    )
    .await;
    rejected_create_of_field(
        &app,
        json!({ "title": "t", "due_date": 20260301 }),
        "due_date",
    )
    .await;

    assert_eq!(task_count(&app, "alice").await, 0);
}

async fn a_body_that_is_not_a_json_object_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;

    for body in [
        "[]",
        r#"["title"]"#,
        r#""Buy milk""#,
        "42",
        "null",
        "{title:",
        r#"{"title": "Buy milk""#,
        r#"{"title": "a"} {"title": "b"}"#,
        "",
        "   ",
    ] {
        rejected_create(&app, body).await;
    }

    // Without any Content-Type at all, an empty body is still the JSON error.
    let res = app
        .http
        .post(app.tasks_url("alice"))
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();
    Response::from(res).await.assert_error(422, "invalid");

    assert_eq!(task_count(&app, "alice").await, 0);
}

async fn an_array_body_is_rejected_on_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let url = app.task_url("alice", task["id"].as_i64().unwrap());
    let complete = format!("{url}/complete");

    // Arrays that line up with the fields of each body are still not JSON objects.
    let attempts = [
        (
            Method::POST,
            app.tasks_url("alice"),
            r#"["Buy bread", null, null, null, null]"#,
        ),
        (Method::PUT, url.clone(), "[]"),
        (Method::PUT, url.clone(), r#"["Buy bread"]"#),
        (Method::PATCH, complete, "[true]"),
    ];
    let mut answers = Vec::new();
    for (method, url, body) in attempts {
        let res = send_raw(&app, method.clone(), &url, "alice", body).await;
        answers.push((format!("{method} {body}"), res.status, res.text));
    }
    let wrong: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status != 422)
        .collect();
    assert!(wrong.is_empty(), "accepted instead of 422: {wrong:#?}");

    let res = app.get(&app.tasks_url("alice"), "alice").await;
    assert_eq!(res.body["tasks"], json!([task]), "nothing was written");
}

/// A client that shows `field` next to a form input must never be sent a
/// field that does not exist: a body that is not an object blames no field.
async fn a_malformed_body_names_no_field(backend: Backend) {
    let app = spawn_app(backend).await;

    let mut blamed = Vec::new();
    for body in ["{title:", r#"{"title": "a""#, "[true]", r#""Buy milk""#, ""] {
        let res = rejected_create(&app, body).await;
        if let Some(field) = res.body.get("field") {
            blamed.push((body, field.clone()));
        }
    }
    assert!(
        blamed.is_empty(),
        "field named for a malformed body: {blamed:?}"
    );
}

async fn update_rejects_null_for_required_fields(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task("alice", json!({ "title": "Buy milk", "priority": "high" }))
        .await;
    let url = app.task_url("alice", task["id"].as_i64().unwrap());

    for field in ["title", "completed", "priority"] {
        let res = app
            .call(Method::PUT, &url, "alice", Some(json!({ field: null })))
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "{}", res.text);
    }

    let res = app.get(&url, "alice").await;
    assert_eq!(res.body, task, "the task is unchanged");
}

async fn update_rejects_bad_values_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({ "title": "Buy milk", "description": "2 liters" }),
        )
        .await;
    let url = app.task_url("alice", task["id"].as_i64().unwrap());

    let bad = [
        (json!({ "title": "" }), "title"),
        (json!({ "title": "   " }), "title"),
        (json!({ "title": "é".repeat(256) }), "title"),
        (json!({ "title": 5 }), "title"),
        (json!({ "description": "a".repeat(1001) }), "description"),
        (json!({ "priority": "urgent" }), "priority"),
        (json!({ "due_date": "tomorrow" }), "due_date"),
        (json!({ "completed": "yes" }), "completed"),
        // One bad field spoils the whole update: the good one is not applied either.
        (
            json!({ "title": "Buy bread", "priority": "urgent" }),
            "priority",
        ),
        (json!({ "completed": true, "title": "" }), "title"),
    ];
    for (body, field) in bad {
        let res = app
            .call(Method::PUT, &url, "alice", Some(body.clone()))
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "{body}: {}", res.text);
    }
    for raw in ["{title:", "", "null", r#""Buy bread""#] {
        send_raw(&app, Method::PUT, &url, "alice", raw)
            .await
            .assert_error(422, "invalid");
    }

    let res = app.get(&url, "alice").await;
    assert_eq!(res.body, task, "the task is unchanged, updated_at included");
}

async fn complete_requires_a_boolean(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = task["id"].as_i64().unwrap();
    let url = format!("{}/complete", app.task_url("alice", task_id));

    for body in [
        json!({}),
        json!({ "completed": "yes" }),
        json!({ "completed": "true" }),
        json!({ "completed": 1 }),
        json!({ "completed": null }),
    ] {
        let res = app
            .call(Method::PATCH, &url, "alice", Some(body.clone()))
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], "completed", "{body}: {}", res.text);
    }
    for raw in ["", "true", "{completed:"] {
        send_raw(&app, Method::PATCH, &url, "alice", raw)
            .await
            .assert_error(422, "invalid");
    }

    let res = app.get(&app.task_url("alice", task_id), "alice").await;
    assert_eq!(res.body, task, "the task is unchanged");
}

async fn list_rejects_bad_query_params(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_titled("alice", "Buy milk").await;

    let bad = [
        ("status=done", "status"),
        ("sort=size", "sort"),
        ("order=up", "order"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
    ];
    for (query, field) in bad {
        let res = app
            .get(&format!("{}?{query}", app.tasks_url("alice")), "alice")
            .await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "?{query}: {}", res.text);
    }

    for good in ["limit=100", "limit=1", "offset=0", "offset=1000"] {
        let res = app
            .get(&format!("{}?{good}", app.tasks_url("alice")), "alice")
            .await;
        assert_eq!(res.status, 200, "?{good}: {}", res.text);
        assert_eq!(res.body["total_count"], 1, "?{good}");
    }
}

async fn a_non_integer_task_id_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;

    for bad_id in ["abc", "1.5", "1e3", "0x1"] {
        let url = app.task_url("alice", bad_id);
        let complete = format!("{url}/complete");
        let calls = [
            (Method::GET, &url, None),
            (Method::PUT, &url, Some(json!({ "title": "x" }))),
            (Method::DELETE, &url, None),
            (Method::PATCH, &complete, Some(json!({ "completed": true }))),
        ];
        for (method, url, body) in calls {
            let res = app.call(method.clone(), url, "alice", body).await;
            res.assert_error(422, "invalid");
            assert_eq!(res.body["field"], "task_id", "{method} {url}: {}", res.text);
        }
    }

    // Integer ids that name no task are 404, however large or small.
    for missing in ["999999", "0", "-1", "99999999999"] {
        let url = app.task_url("alice", missing);
        let complete = format!("{url}/complete");
        let calls = [
            (Method::GET, &url, None),
            (Method::PUT, &url, Some(json!({ "title": "x" }))),
            (Method::DELETE, &url, None),
            (Method::PATCH, &complete, Some(json!({ "completed": true }))),
        ];
        for (method, url, body) in calls {
            let res = app.call(method.clone(), url, "alice", body).await;
            assert_eq!(res.status, 404, "{method} {url}: {}", res.text);
            res.assert_error(404, "not_found");
        }
    }

    let res = app.get(&app.tasks_url("alice"), "alice").await;
    assert_eq!(res.body["tasks"], json!([task]), "nothing was changed");
}

async fn checks_run_in_the_contract_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let alice_task = app.task_url("alice", task["id"].as_i64().unwrap());
    let missing = app.task_url("alice", 999_999);
    let bad_body = json!({ "title": "" });

    // 1. Authentication first: no token beats a foreign path, bad input and a bad id.
    let res = app
        .http
        .put(app.task_url("bob", "abc"))
        .json(&bad_body)
        .send()
        .await
        .unwrap();
    Response::from(res).await.assert_error(401, "unauthorized");

    // 2. Then path ownership: Bob on Alice's path is 403 whatever the input.
    app.call(
        Method::POST,
        &app.tasks_url("alice"),
        "bob",
        Some(bad_body.clone()),
    )
    .await
    .assert_error(403, "forbidden");
    send_raw(
        &app,
        Method::POST,
        &app.tasks_url("alice"),
        "bob",
        "{title:",
    )
    .await
    .assert_error(403, "forbidden");
    app.call(Method::PUT, &alice_task, "bob", Some(bad_body.clone()))
        .await
        .assert_error(403, "forbidden");
    app.call(
        Method::PUT,
        &app.task_url("alice", "abc"),
        "bob",
        Some(bad_body.clone()),
    )
    .await
    .assert_error(403, "forbidden");
    app.call(Method::GET, &app.task_url("alice", "abc"), "bob", None)
        .await
        .assert_error(403, "forbidden");
    app.call(
        Method::PATCH,
        &format!("{missing}/complete"),
        "bob",
        Some(json!({ "completed": "yes" })),
    )
    .await
    .assert_error(403, "forbidden");
    app.get(&format!("{}?limit=0", app.tasks_url("alice")), "bob")
        .await
        .assert_error(403, "forbidden");

    // 3. Then input: a bad body on a task that does not exist is 422, not 404.
    app.call(Method::PUT, &missing, "alice", Some(bad_body.clone()))
        .await
        .assert_error(422, "invalid");
    app.call(
        Method::PATCH,
        &format!("{missing}/complete"),
        "alice",
        Some(json!({ "completed": "yes" })),
    )
    .await
    .assert_error(422, "invalid");
    send_raw(&app, Method::PUT, &missing, "alice", "{title:")
        .await
        .assert_error(422, "invalid");

    // 4. Existence last: good input on a missing task is 404.
    app.call(
        Method::PUT,
        &missing,
        "alice",
        Some(json!({ "title": "ok" })),
    )
    .await
    .assert_error(404, "not_found");

    let res = app.get(&alice_task, "alice").await;
    assert_eq!(res.body, task, "nothing of Alice's changed");
}

async fn unknown_routes_and_methods_get_json_errors(backend: Backend) {
    let app = spawn_app(backend).await;

    for path in [
        "/nope",
        "/api",
        "/api/alice",
        "/api/alice/todos",
        "/api/alice/tasks/1/extra",
        "/api/alice/tasks/1/complete/now",
    ] {
        let res = app.get(&app.url(path), "alice").await;
        assert_eq!(res.status, 404, "GET {path}: {}", res.text);
        res.assert_error(404, "not_found");
    }

    let task = app.create_titled("alice", "Buy milk").await;
    let one = app.task_url("alice", task["id"].as_i64().unwrap());
    // Each wrong method is refused, and `Allow` lists the ones that work.
    let collection = ["GET", "POST"];
    let item = ["GET", "PUT", "DELETE"];
    let wrong = [
        (Method::PATCH, app.tasks_url("alice"), &collection[..]),
        (Method::DELETE, app.tasks_url("alice"), &collection[..]),
        (Method::PUT, app.tasks_url("alice"), &collection[..]),
        (Method::POST, one.clone(), &item[..]),
        (Method::PATCH, one.clone(), &item[..]),
        (Method::GET, format!("{one}/complete"), &["PATCH"][..]),
        (Method::PUT, format!("{one}/complete"), &["PATCH"][..]),
        (Method::POST, app.url("/health"), &["GET"][..]),
    ];
    for (method, url, allowed) in wrong {
        let res = app
            .call(method.clone(), &url, "alice", Some(json!({ "title": "x" })))
            .await;
        assert_eq!(res.status, 405, "{method} {url}: {}", res.text);
        res.assert_error(405, "invalid");
        let allow = res.headers[header::ALLOW].to_str().unwrap();
        let allow: Vec<&str> = allow.split(',').map(str::trim).collect();
        for m in allowed {
            assert!(
                allow.contains(m),
                "{method} {url}: Allow {allow:?} lacks {m}"
            );
        }
        assert!(
            !allow.contains(&method.as_str()),
            "{method} {url}: Allow {allow:?}"
        );
    }

    let res = app.get(&app.tasks_url("alice"), "alice").await;
    assert_eq!(res.body["tasks"], json!([task]), "nothing was written");
}

async fn an_oversized_body_is_413_with_a_json_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let limit = 1024 * 1024;

    // A valid body padded with spaces to exactly 1 MiB (design §9) is still accepted.
    let small = r#"{"title": "fits"}"#;
    let at_limit = format!("{small}{}", " ".repeat(limit - small.len()));
    assert_eq!(at_limit.len(), limit);
    let res = send_raw(
        &app,
        Method::POST,
        &app.tasks_url("alice"),
        "alice",
        &at_limit,
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let fits = app.task_url("alice", res.body["id"].as_i64().unwrap());

    // One byte more is refused, with the JSON error body rather than plain text.
    let over = format!("{at_limit} ");
    let res = send_raw(&app, Method::POST, &app.tasks_url("alice"), "alice", &over).await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_eq!(res.body["success"], false, "{}", res.text);
    assert!(res.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    let message = res.body["message"].as_str().expect("message is a string");
    assert!(!message.is_empty());
    assert_eq!(res.body["detail"], message);

    // A big payload inside otherwise valid JSON too, on create and on update.
    let huge = json!({ "title": "x", "description": "a".repeat(limit + 1) }).to_string();
    let res = send_raw(&app, Method::POST, &app.tasks_url("alice"), "alice", &huge).await;
    assert_eq!(res.status, 413, "{}", res.text);
    let res = send_raw(&app, Method::PUT, &fits, "alice", &huge).await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_eq!(res.body["success"], false, "{}", res.text);

    let res = app.get(&app.tasks_url("alice"), "alice").await;
    assert_eq!(
        res.body["total_count"], 1,
        "only the task at the limit was written"
    );
    assert_eq!(res.body["tasks"][0]["title"], "fits");
    assert_eq!(res.body["tasks"][0]["description"], Value::Null);
}
