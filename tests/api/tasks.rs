//! The six legacy task routes (`/api/{user}/tasks…`) as an existing REST client uses
//! them: create, read, list (filter, sort, page), partial update, complete, delete,
//! and the wall between two users on every route.

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    app::{spawn_app, tick},
    db::Backend,
    json::{TASK_KEYS, id, ids, keys, timestamp, titles},
};
use crate::on_both_backends;

on_both_backends!(
    create_returns_the_task_with_defaults,
    create_keeps_every_field_given,
    due_date_is_returned_in_utc,
    get_returns_the_task_or_404,
    list_counts_and_filters_by_status,
    list_pages_with_limit_and_offset,
    list_sorts_by_created,
    list_sorts_by_updated,
    list_sorts_by_title_ignoring_case,
    list_sorts_by_priority,
    list_sorts_by_due_date_with_missing_dates_last,
    update_changes_only_the_fields_sent,
    update_with_null_clears_description_and_due_date,
    update_advances_updated_at_only,
    update_of_a_missing_task_is_404,
    complete_answers_the_old_shape_and_toggles,
    delete_removes_the_task,
    another_users_task_is_not_found_on_every_route,
    lists_and_counts_are_per_user,
    a_token_for_another_users_path_is_forbidden,
    an_acked_write_is_visible_at_once,
);

async fn create_returns_the_task_with_defaults(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = Utc::now();

    let res = app
        .post_task("alice", json!({ "title": "  Buy milk \n" }))
        .await;

    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(keys(&res.body), TASK_KEYS);

    assert!(id(&res.body) > 0);
    assert_eq!(res.body["user_id"], "alice");
    assert_eq!(res.body["title"], "Buy milk");
    assert_eq!(res.body["description"], Value::Null);
    assert_eq!(res.body["completed"], false);
    assert_eq!(res.body["priority"], "normal");
    assert_eq!(res.body["due_date"], Value::Null);

    let created = timestamp(&res.body["created_at"]);
    assert_eq!(res.body["created_at"], res.body["updated_at"]);
    let slack = chrono::Duration::seconds(5);
    assert!(
        created >= before - slack && created <= Utc::now() + slack,
        "created_at {created} is not now"
    );
}

async fn create_keeps_every_field_given(backend: Backend) {
    let app = spawn_app(backend).await;

    let task = app
        .create_task(
            "alice",
            json!({
                "title": "Write report",
                "description": "quarterly, 2 pages",
                "completed": true,
                "priority": "high",
                "due_date": "2026-03-01T09:30:00",
            }),
        )
        .await;

    assert_eq!(task["title"], "Write report");
    assert_eq!(task["description"], "quarterly, 2 pages");
    assert_eq!(task["completed"], true);
    assert_eq!(task["priority"], "high");
    assert_eq!(task["due_date"], "2026-03-01T09:30:00Z");

    let low = app
        .create_task("alice", json!({ "title": "Later", "priority": "low" }))
        .await;
    assert_eq!(low["priority"], "low");
    assert_ne!(id(&low), id(&task), "every task gets its own id");
}

async fn due_date_is_returned_in_utc(backend: Backend) {
    let app = spawn_app(backend).await;

    for given in [
        "2026-03-01T09:30:00",
        "2026-03-01T09:30:00Z",
        "2026-03-01T10:30:00+01:00",
        "2026-03-01T04:30:00-05:00",
    ] {
        let task = app
            .create_task("alice", json!({ "title": "Dentist", "due_date": given }))
            .await;
        assert_eq!(task["due_date"], "2026-03-01T09:30:00Z", "given {given}");

        // Reading it back gives the same instant, not a re-interpreted one.
        let res = app.get_task("alice", id(&task)).await;
        assert_eq!(
            res.body["due_date"], "2026-03-01T09:30:00Z",
            "given {given}"
        );
    }
}

async fn get_returns_the_task_or_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({ "title": "Buy milk", "description": "2 liters", "due_date": "2026-03-01T09:30:00Z" }),
        )
        .await;

    let res = app.get_task("alice", id(&task)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body, task);

    app.get_task("alice", id(&task) + 1000)
        .await
        .assert_error(404, "not_found");
}

async fn list_counts_and_filters_by_status(backend: Backend) {
    let app = spawn_app(backend).await;

    let empty = app.list_tasks("alice", "").await;
    assert_eq!(
        empty,
        json!({ "tasks": [], "total_count": 0, "filtered_count": 0 })
    );

    let a = app.create_titled("alice", "a").await;
    let b = app
        .create_task("alice", json!({ "title": "b", "completed": true }))
        .await;
    let c = app.create_titled("alice", "c").await;
    let d = app
        .create_task("alice", json!({ "title": "d", "completed": true }))
        .await;
    let e = app.create_titled("alice", "e").await;

    let all = app.list_tasks("alice", "").await;
    assert_eq!(all["total_count"], 5);
    assert_eq!(all["filtered_count"], 5);
    assert_eq!(all["tasks"][0], e, "list items are the same objects as GET");
    assert_eq!(all, app.list_tasks("alice", "status=all").await);

    let pending = app.list_tasks("alice", "status=pending").await;
    assert_eq!(ids(&pending["tasks"]), vec![id(&e), id(&c), id(&a)]);
    assert_eq!(pending["total_count"], 5);
    assert_eq!(pending["filtered_count"], 3);

    let completed = app.list_tasks("alice", "status=completed").await;
    assert_eq!(ids(&completed["tasks"]), vec![id(&d), id(&b)]);
    assert_eq!(completed["total_count"], 5);
    assert_eq!(completed["filtered_count"], 2);

    // filtered_count counts every match, not the page.
    let page = app.list_tasks("alice", "status=pending&limit=1").await;
    assert_eq!(ids(&page["tasks"]), vec![id(&e)]);
    assert_eq!(page["total_count"], 5);
    assert_eq!(page["filtered_count"], 3);
}

async fn list_pages_with_limit_and_offset(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for n in 1..=5 {
        created.push(id(&app.create_titled("alice", &format!("task {n}")).await));
    }

    let page = app
        .list_tasks("alice", "sort=created&order=asc&limit=2&offset=2")
        .await;
    assert_eq!(ids(&page["tasks"]), created[2..4]);
    assert_eq!(page["total_count"], 5);
    assert_eq!(page["filtered_count"], 5);

    let first = app
        .list_tasks("alice", "sort=created&order=asc&limit=2")
        .await;
    assert_eq!(ids(&first["tasks"]), created[0..2]);

    let last = app
        .list_tasks("alice", "sort=created&order=asc&limit=2&offset=4")
        .await;
    assert_eq!(ids(&last["tasks"]), created[4..5]);

    let beyond = app.list_tasks("alice", "limit=2&offset=5").await;
    assert_eq!(ids(&beyond["tasks"]), Vec::<i64>::new());
    assert_eq!(beyond["total_count"], 5);
    assert_eq!(beyond["filtered_count"], 5);

    // Default order is newest first, and the same pages put together give the whole list.
    let mut paged = Vec::new();
    for offset in [0, 2, 4] {
        let page = app
            .list_tasks("alice", &format!("limit=2&offset={offset}"))
            .await;
        paged.extend(ids(&page["tasks"]));
    }
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(paged, newest_first);
}

async fn list_sorts_by_created(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for title in ["first", "second", "third"] {
        created.push(id(&app.create_titled("alice", title).await));
        tick().await;
    }
    let mut newest_first = created.clone();
    newest_first.reverse();

    assert_eq!(
        ids(&app.list_tasks("alice", "").await["tasks"]),
        newest_first,
        "default: newest first"
    );
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=created").await["tasks"]),
        newest_first
    );
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=created&order=desc").await["tasks"]),
        newest_first
    );
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=created&order=asc").await["tasks"]),
        created
    );
    assert_eq!(
        ids(&app.list_tasks("alice", "order=asc").await["tasks"]),
        created
    );
}

async fn list_sorts_by_updated(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut created = Vec::new();
    for title in ["a", "b", "c"] {
        created.push(id(&app.create_titled("alice", title).await));
        tick().await;
    }
    let [a, b, c] = created[..] else {
        unreachable!()
    };

    assert_eq!(
        ids(&app.list_tasks("alice", "sort=updated&order=asc").await["tasks"]),
        [a, b, c]
    );

    // Touching the oldest task makes it the most recently updated.
    let res = app
        .put_task("alice", a, json!({ "title": "a, edited" }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);

    assert_eq!(
        ids(&app.list_tasks("alice", "sort=updated&order=desc").await["tasks"]),
        [a, c, b]
    );
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=updated&order=asc").await["tasks"]),
        [b, c, a]
    );
    // Creation order is not affected.
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=created&order=asc").await["tasks"]),
        [a, b, c]
    );

    tick().await;
    let res = app
        .patch_complete("alice", b, json!({ "completed": true }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=updated&order=desc").await["tasks"]),
        [b, a, c]
    );
}

async fn list_sorts_by_title_ignoring_case(backend: Backend) {
    let app = spawn_app(backend).await;
    let cherry = id(&app.create_titled("alice", "cherry").await);
    let banana_upper = id(&app.create_titled("alice", "Banana").await);
    let apple = id(&app.create_titled("alice", "apple").await);
    // Equal to "Banana" ignoring case: the tie goes by id.
    let banana_lower = id(&app.create_titled("alice", "banana").await);

    let asc = app.list_tasks("alice", "sort=title&order=asc").await;
    assert_eq!(
        ids(&asc["tasks"]),
        [apple, banana_upper, banana_lower, cherry]
    );
    assert_eq!(titles(&asc), ["apple", "Banana", "banana", "cherry"]);

    let desc = app.list_tasks("alice", "sort=title&order=desc").await;
    assert_eq!(
        ids(&desc["tasks"]),
        [cherry, banana_lower, banana_upper, apple]
    );
}

async fn list_sorts_by_priority(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut make = Vec::new();
    for priority in ["low", "high", "normal", "high"] {
        let task = app
            .create_task("alice", json!({ "title": priority, "priority": priority }))
            .await;
        make.push(id(&task));
    }
    let [low, high_1, normal, high_2] = make[..] else {
        unreachable!()
    };

    let desc = app.list_tasks("alice", "sort=priority&order=desc").await;
    assert_eq!(ids(&desc["tasks"]), [high_2, high_1, normal, low]);
    let priorities: Vec<&str> = desc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["priority"].as_str().unwrap())
        .collect();
    assert_eq!(priorities, ["high", "high", "normal", "low"]);

    let asc = app.list_tasks("alice", "sort=priority&order=asc").await;
    assert_eq!(ids(&asc["tasks"]), [low, normal, high_1, high_2]);
}

async fn list_sorts_by_due_date_with_missing_dates_last(backend: Backend) {
    let app = spawn_app(backend).await;
    let none_1 = id(&app.create_titled("alice", "no date 1").await);
    let later = id(&app
        .create_task(
            "alice",
            json!({ "title": "later", "due_date": "2026-03-02T00:00:00Z" }),
        )
        .await);
    let none_2 = id(&app.create_titled("alice", "no date 2").await);
    let sooner = id(&app
        .create_task(
            "alice",
            json!({ "title": "sooner", "due_date": "2026-03-01T00:00:00Z" }),
        )
        .await);

    assert_eq!(
        ids(&app.list_tasks("alice", "sort=due_date&order=asc").await["tasks"]),
        [sooner, later, none_1, none_2]
    );
    assert_eq!(
        ids(&app.list_tasks("alice", "sort=due_date&order=desc").await["tasks"]),
        [later, sooner, none_2, none_1]
    );
}

async fn update_changes_only_the_fields_sent(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({
                "title": "Buy milk",
                "description": "2 liters",
                "due_date": "2026-03-01T09:30:00Z",
            }),
        )
        .await;
    let task_id = id(&task);

    let res = app
        .put_task("alice", task_id, json!({ "priority": "high" }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["priority"], "high");
    for unchanged in [
        "id",
        "user_id",
        "title",
        "description",
        "completed",
        "due_date",
        "created_at",
    ] {
        assert_eq!(res.body[unchanged], task[unchanged], "{unchanged} changed");
    }
    let fetched = app.get_task("alice", task_id).await;
    assert_eq!(fetched.body, res.body, "the answer is what was stored");

    let res = app
        .put_task(
            "alice",
            task_id,
            json!({ "title": "  Buy oat milk ", "completed": true }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["title"], "Buy oat milk", "title is trimmed");
    assert_eq!(res.body["completed"], true);
    assert_eq!(res.body["priority"], "high", "earlier change kept");
    assert_eq!(res.body["description"], "2 liters");

    let res = app
        .put_task(
            "alice",
            task_id,
            json!({ "description": "1 liter", "due_date": "2026-04-01T10:00:00+02:00" }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["description"], "1 liter");
    assert_eq!(res.body["due_date"], "2026-04-01T08:00:00Z");
    assert_eq!(res.body["title"], "Buy oat milk");

    // An empty update changes none of the task's fields.
    let before = res.body;
    let res = app.put_task("alice", task_id, json!({})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    for unchanged in ["title", "description", "completed", "priority", "due_date"] {
        assert_eq!(res.body[unchanged], before[unchanged], "{unchanged}");
    }
}

async fn update_with_null_clears_description_and_due_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({
                "title": "Buy milk",
                "description": "2 liters",
                "priority": "high",
                "due_date": "2026-03-01T09:30:00Z",
            }),
        )
        .await;
    let task_id = id(&task);

    let res = app
        .put_task("alice", task_id, json!({ "description": null }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["description"], Value::Null);
    assert_eq!(res.body["due_date"], "2026-03-01T09:30:00Z", "untouched");

    let res = app
        .put_task("alice", task_id, json!({ "due_date": null }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["due_date"], Value::Null);
    assert_eq!(res.body["title"], "Buy milk");
    assert_eq!(res.body["priority"], "high");

    let fetched = app.get_task("alice", task_id).await;
    assert_eq!(fetched.body["description"], Value::Null);
    assert_eq!(fetched.body["due_date"], Value::Null);
}

async fn update_advances_updated_at_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = id(&task);
    tick().await;

    let res = app
        .put_task("alice", task_id, json!({ "title": "Buy bread" }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["created_at"], task["created_at"]);
    let first_update = timestamp(&res.body["updated_at"]);
    assert!(first_update > timestamp(&task["updated_at"]));
    tick().await;

    let res = app
        .put_task("alice", task_id, json!({ "completed": true }))
        .await;
    assert_eq!(res.body["created_at"], task["created_at"]);
    assert!(timestamp(&res.body["updated_at"]) > first_update);

    let fetched = app.get_task("alice", task_id).await;
    assert_eq!(fetched.body["updated_at"], res.body["updated_at"]);
    assert_eq!(fetched.body["created_at"], task["created_at"]);
}

async fn update_of_a_missing_task_is_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;

    app.put_task("alice", id(&task) + 1000, json!({ "title": "x" }))
        .await
        .assert_error(404, "not_found");

    let page = app.list_tasks("alice", "").await;
    assert_eq!(page["total_count"], 1, "no task was created by the update");
    assert_eq!(page["tasks"][0], task);
}

async fn complete_answers_the_old_shape_and_toggles(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Buy milk").await;
    let task_id = id(&task);
    tick().await;

    let res = app
        .patch_complete("alice", task_id, json!({ "completed": true }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(keys(&res.body), ["completed", "id", "updated_at"]);
    assert_eq!(res.body["id"], task_id);
    assert_eq!(res.body["completed"], true);
    assert!(timestamp(&res.body["updated_at"]) > timestamp(&task["updated_at"]));

    let fetched = app.get_task("alice", task_id).await;
    assert_eq!(fetched.body["completed"], true);
    assert_eq!(fetched.body["updated_at"], res.body["updated_at"]);
    assert_eq!(fetched.body["title"], "Buy milk");
    let completed = app.list_tasks("alice", "status=completed").await;
    assert_eq!(ids(&completed["tasks"]), [task_id]);

    let res = app
        .patch_complete("alice", task_id, json!({ "completed": false }))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["completed"], false);
    let fetched = app.get_task("alice", task_id).await;
    assert_eq!(fetched.body["completed"], false);
    assert_eq!(
        app.list_tasks("alice", "status=completed").await["filtered_count"],
        0
    );

    app.patch_complete("alice", task_id + 1000, json!({ "completed": true }))
        .await
        .assert_error(404, "not_found");
}

async fn delete_removes_the_task(backend: Backend) {
    let app = spawn_app(backend).await;
    let keep = app.create_titled("alice", "keep").await;
    let gone = id(&app.create_titled("alice", "gone").await);

    let res = app.delete_task("alice", gone).await;
    assert_eq!(res.status, 204);
    assert_eq!(res.text, "", "204 has no body");

    app.get_task("alice", gone)
        .await
        .assert_error(404, "not_found");
    app.delete_task("alice", gone)
        .await
        .assert_error(404, "not_found");

    let page = app.list_tasks("alice", "").await;
    assert_eq!(ids(&page["tasks"]), [id(&keep)]);
    assert_eq!(page["total_count"], 1);
    assert_eq!(page["filtered_count"], 1);
}

async fn another_users_task_is_not_found_on_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app
        .create_task(
            "alice",
            json!({ "title": "Alice's secret", "description": "do not touch" }),
        )
        .await;
    let task_id = id(&task);
    app.create_titled("bob", "Bob's own").await;

    // Bob asks for Alice's task id on his own path, with his own token.
    app.get_task("bob", task_id)
        .await
        .assert_error(404, "not_found");
    app.put_task(
        "bob",
        task_id,
        json!({ "title": "hijacked", "completed": true }),
    )
    .await
    .assert_error(404, "not_found");
    app.patch_complete("bob", task_id, json!({ "completed": true }))
        .await
        .assert_error(404, "not_found");
    app.delete_task("bob", task_id)
        .await
        .assert_error(404, "not_found");

    // The 404 is the same as for an id that does not exist at all.
    let foreign = app.get_task("bob", task_id).await;
    let missing = app.get_task("bob", task_id + 1000).await;
    assert_eq!(foreign.body, missing.body);

    let res = app.get_task("alice", task_id).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body, task, "Alice's task is unchanged");
}

async fn lists_and_counts_are_per_user(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_titled("alice", "a1").await;
    app.create_task("alice", json!({ "title": "a2", "completed": true }))
        .await;
    app.create_task("alice", json!({ "title": "a3", "completed": true }))
        .await;
    let bob_task = app.create_titled("bob", "b1").await;

    let bob = app.list_tasks("bob", "").await;
    assert_eq!(
        bob,
        json!({ "tasks": [bob_task], "total_count": 1, "filtered_count": 1 })
    );
    let bob_completed = app.list_tasks("bob", "status=completed").await;
    assert_eq!(
        bob_completed,
        json!({ "tasks": [], "total_count": 1, "filtered_count": 0 })
    );

    let carol = app.list_tasks("carol", "").await;
    assert_eq!(
        carol,
        json!({ "tasks": [], "total_count": 0, "filtered_count": 0 })
    );

    let alice = app.list_tasks("alice", "").await;
    assert_eq!(alice["total_count"], 3);
    assert!(
        alice["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["user_id"] == "alice")
    );
}

async fn a_token_for_another_users_path_is_forbidden(backend: Backend) {
    let app = spawn_app(backend).await;
    let task = app.create_titled("alice", "Alice's").await;
    let task_id = id(&task);
    let one = app.task_url("alice", task_id);

    let attempts = [
        (Method::GET, app.tasks_url("alice"), None),
        (
            Method::POST,
            app.tasks_url("alice"),
            Some(json!({ "title": "planted by bob" })),
        ),
        (Method::GET, one.clone(), None),
        (
            Method::PUT,
            one.clone(),
            Some(json!({ "title": "hijacked" })),
        ),
        (
            Method::PATCH,
            format!("{one}/complete"),
            Some(json!({ "completed": true })),
        ),
        (Method::DELETE, one.clone(), None),
    ];
    for (method, url, body) in attempts {
        let res = app.call(method.clone(), &url, "bob", body).await;
        assert_eq!(res.status, 403, "{method} {url}: {}", res.text);
        res.assert_error(403, "forbidden");
    }

    let page = app.list_tasks("alice", "").await;
    assert_eq!(
        page,
        json!({ "tasks": [task], "total_count": 1, "filtered_count": 1 }),
        "nothing of Alice's changed"
    );
    assert_eq!(app.list_tasks("bob", "").await["total_count"], 0);
}

async fn an_acked_write_is_visible_at_once(backend: Backend) {
    let app = spawn_app(backend).await;

    for n in 1..=5 {
        let task = app.create_titled("alice", &format!("task {n}")).await;
        let page = app.list_tasks("alice", "").await;
        assert_eq!(page["total_count"], n);
        assert_eq!(page["tasks"][0], task, "the new task is listed at once");

        let res = app
            .put_task("alice", id(&task), json!({ "priority": "high" }))
            .await;
        let fetched = app.get_task("alice", id(&task)).await;
        assert_eq!(fetched.body, res.body, "the update is read back at once");
    }

    let first = ids(&app.list_tasks("alice", "").await["tasks"])[0];
    assert_eq!(app.delete_task("alice", first).await.status, 204);
    let page = app.list_tasks("alice", "").await;
    assert_eq!(page["total_count"], 4);
    assert!(
        !ids(&page["tasks"]).contains(&first),
        "the deleted task is gone at once"
    );
}
