//! Bad input on the legacy task routes: every malformed body, query or path is a 422
//! with the JSON error body (naming the field at fault) and writes nothing; checks run
//! in the contract's order (401, 403, 422, 404); unknown routes, wrong methods and
//! oversized bodies get the JSON error body too.

use reqwest::{Method, header};
use serde_json::{Value, json};

use crate::helpers::{
    app::{Response, TestApp, spawn_app},
    db::Backend,
    json::id,
};
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

/// POSTs a raw body for alice: expects a 422 `invalid`, and no task written.
async fn rejected_create(app: &TestApp, body: &str) -> Response {
    let before = app.task_count("alice").await;
    let res = app
        .send_raw(Method::POST, &app.tasks_url("alice"), "alice", body)
        .await;
    res.assert_error(422, "invalid");
    assert_eq!(
        app.task_count("alice").await,
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

    assert_eq!(app.task_count("alice").await, 0);
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

    assert_eq!(app.task_count("alice").await, 2);
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

    assert_eq!(app.task_count("alice").await, 1);
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

    assert_eq!(app.task_count("alice").await, 0);
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

    assert_eq!(app.task_count("alice").await, 0);
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
    app.call(Method::POST, &app.tasks_url("alice"), "alice", None)
        .await
        .assert_error(422, "invalid");

    assert_eq!(app.task_count("alice").await, 0);
}

async fn an_array_body_is_rejected_on_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let url = app.task_url("alice", id(&task));
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
        let res = app.send_raw(method.clone(), &url, "alice", body).await;
        answers.push((format!("{method} {body}"), res.status, res.text));
    }
    let wrong: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status != 422)
        .collect();
    assert!(wrong.is_empty(), "accepted instead of 422: {wrong:#?}");

    let res = app.get_tasks("alice", "").await;
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
    let task_id = id(&task);

    for field in ["title", "completed", "priority"] {
        let res = app.put_task("alice", task_id, json!({ field: null })).await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "{}", res.text);
    }

    let res = app.get_task("alice", task_id).await;
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
    let task_id = id(&task);
    let url = app.task_url("alice", task_id);

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
        let res = app.put_task("alice", task_id, body.clone()).await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "{body}: {}", res.text);
    }
    for raw in ["{title:", "", "null", r#""Buy bread""#] {
        app.send_raw(Method::PUT, &url, "alice", raw)
            .await
            .assert_error(422, "invalid");
    }

    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.body, task, "the task is unchanged, updated_at included");
}

async fn complete_requires_a_boolean(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = id(&task);
    let url = format!("{}/complete", app.task_url("alice", task_id));

    for body in [
        json!({}),
        json!({ "completed": "yes" }),
        json!({ "completed": "true" }),
        json!({ "completed": 1 }),
        json!({ "completed": null }),
    ] {
        let res = app.patch_complete("alice", task_id, body.clone()).await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], "completed", "{body}: {}", res.text);
    }
    for raw in ["", "true", "{completed:"] {
        app.send_raw(Method::PATCH, &url, "alice", raw)
            .await
            .assert_error(422, "invalid");
    }

    let res = app.get_task("alice", task_id).await;
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
        let res = app.get_tasks("alice", query).await;
        res.assert_error(422, "invalid");
        assert_eq!(res.body["field"], field, "?{query}: {}", res.text);
    }

    for good in ["limit=100", "limit=1", "offset=0", "offset=1000"] {
        let res = app.get_tasks("alice", good).await;
        assert_eq!(res.status, 200, "?{good}: {}", res.text);
        assert_eq!(res.body["total_count"], 1, "?{good}");
    }
}

/// Each of alice's routes that names a task by `task_id` in its path, with a valid body.
fn every_route_naming_a_task(app: &TestApp, task_id: &str) -> [(Method, String, Option<Value>); 4] {
    let url = app.task_url("alice", task_id);
    let complete = format!("{url}/complete");
    [
        (Method::GET, url.clone(), None),
        (Method::PUT, url.clone(), Some(json!({ "title": "x" }))),
        (Method::DELETE, url, None),
        (Method::PATCH, complete, Some(json!({ "completed": true }))),
    ]
}

async fn a_non_integer_task_id_is_rejected(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;

    for bad_id in ["abc", "1.5", "1e3", "0x1"] {
        for (method, url, body) in every_route_naming_a_task(&app, bad_id) {
            let res = app.call(method.clone(), &url, "alice", body).await;
            res.assert_error(422, "invalid");
            assert_eq!(res.body["field"], "task_id", "{method} {url}: {}", res.text);
        }
    }

    // Integer ids that name no task are 404, however large or small.
    for missing in ["999999", "0", "-1", "99999999999"] {
        for (method, url, body) in every_route_naming_a_task(&app, missing) {
            let res = app.call(method.clone(), &url, "alice", body).await;
            assert_eq!(res.status, 404, "{method} {url}: {}", res.text);
            res.assert_error(404, "not_found");
        }
    }

    let res = app.get_tasks("alice", "").await;
    assert_eq!(res.body["tasks"], json!([task]), "nothing was changed");
}

async fn checks_run_in_the_contract_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let alice_task = app.task_url("alice", id(&task));
    let missing = app.task_url("alice", 999_999);
    let bad_body = json!({ "title": "" });

    // 1. Authentication first: no token beats a foreign path, bad input and a bad id.
    app.send(
        Method::PUT,
        &app.task_url("bob", "abc"),
        None,
        Some(bad_body.clone()),
    )
    .await
    .assert_error(401, "unauthorized");

    // 2. Then path ownership: Bob on Alice's path is 403 whatever the input.
    app.call(
        Method::POST,
        &app.tasks_url("alice"),
        "bob",
        Some(bad_body.clone()),
    )
    .await
    .assert_error(403, "forbidden");
    app.send_raw(Method::POST, &app.tasks_url("alice"), "bob", "{title:")
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
    app.call(
        Method::GET,
        &format!("{}?limit=0", app.tasks_url("alice")),
        "bob",
        None,
    )
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
    app.send_raw(Method::PUT, &missing, "alice", "{title:")
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

    let res = app.get_task("alice", id(&task)).await;
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
        let res = app.call(Method::GET, &app.url(path), "alice", None).await;
        assert_eq!(res.status, 404, "GET {path}: {}", res.text);
        res.assert_error(404, "not_found");
    }

    let task = app.create_titled("alice", "Buy milk").await;
    let one = app.task_url("alice", id(&task));
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

    let res = app.get_tasks("alice", "").await;
    assert_eq!(res.body["tasks"], json!([task]), "nothing was written");
}

async fn an_oversized_body_is_413_with_a_json_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let limit = 1024 * 1024;

    // A valid body padded with spaces to exactly 1 MiB (design §9) is still accepted.
    let small = r#"{"title": "fits"}"#;
    let at_limit = format!("{small}{}", " ".repeat(limit - small.len()));
    assert_eq!(at_limit.len(), limit);
    let res = app
        .send_raw(Method::POST, &app.tasks_url("alice"), "alice", &at_limit)
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let fits = app.task_url("alice", res.body["id"].as_i64().unwrap());

    // One byte more is refused, with the JSON error body rather than plain text.
    let over = format!("{at_limit} ");
    let res = app
        .send_raw(Method::POST, &app.tasks_url("alice"), "alice", &over)
        .await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_eq!(res.body["success"], false, "{}", res.text);
    assert!(res.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    let message = res.body["message"].as_str().expect("message is a string");
    assert!(!message.is_empty());
    assert_eq!(res.body["detail"], message);

    // A big payload inside otherwise valid JSON too, on create and on update.
    let huge = json!({ "title": "x", "description": "a".repeat(limit + 1) }).to_string();
    let res = app
        .send_raw(Method::POST, &app.tasks_url("alice"), "alice", &huge)
        .await;
    assert_eq!(res.status, 413, "{}", res.text);
    let res = app.send_raw(Method::PUT, &fits, "alice", &huge).await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_eq!(res.body["success"], false, "{}", res.text);

    let res = app.get_tasks("alice", "").await;
    assert_eq!(
        res.body["total_count"], 1,
        "only the task at the limit was written"
    );
    assert_eq!(res.body["tasks"][0]["title"], "fits");
    assert_eq!(res.body["tasks"][0]["description"], Value::Null);
}
