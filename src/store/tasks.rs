//! Task statements. Each function builds one sea-query statement; the `Store`/`Tx`
//! runs it on whichever backend is configured.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_query::{
    Asterisk, Cond, Expr, ExprTrait, Func, NullOrdering, Order, Query, ReturningClause,
    SelectStatement, SimpleExpr,
};

use super::{Store, Tx, schema::Task as T};
use crate::config::Backend;
use crate::domain::{
    NewTask, Priority, Task, TaskId, TaskPage, TaskPatch, TaskQuery, UserId,
    task::{SortKey, SortOrder, StatusFilter},
    time,
};
use crate::error::Result;

const COLUMNS: [T; 9] = [
    T::Id,
    T::UserId,
    T::Title,
    T::Description,
    T::Completed,
    T::Priority,
    T::DueDate,
    T::CreatedAt,
    T::UpdatedAt,
];

/// A `task` row as stored: naive UTC timestamps, priority as text.
#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i32,
    user_id: String,
    title: String,
    description: Option<String>,
    completed: bool,
    priority: String,
    due_date: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Task {
            id: row.id.into(),
            user_id: row.user_id,
            title: row.title,
            description: row.description,
            completed: row.completed,
            priority: Priority::from_db(&row.priority),
            due_date: row.due_date.map(time::from_db),
            created_at: time::from_db(row.created_at),
            updated_at: time::from_db(row.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct Counts {
    total: i64,
    filtered: i64,
}

fn returning() -> ReturningClause {
    Query::returning().columns(COLUMNS)
}

fn owned(user: &UserId, id: TaskId) -> Cond {
    Cond::all()
        .add(Expr::col(T::Id).eq(id))
        .add(Expr::col(T::UserId).eq(user.as_str()))
}

fn status_condition(status: StatusFilter) -> Option<SimpleExpr> {
    match status {
        StatusFilter::All => None,
        StatusFilter::Pending => Some(Expr::col(T::Completed).eq(false)),
        StatusFilter::Completed => Some(Expr::col(T::Completed).eq(true)),
    }
}

/// Case-insensitive title order that is byte-for-byte the same on both backends:
/// ASCII letters folded, then compared as UTF-8 bytes (SQLite's `lower` folds only
/// ASCII and compares bytes; PostgreSQL's would follow the database's locale).
fn title_key(backend: Backend) -> SimpleExpr {
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    if backend == Backend::Postgres {
        let folded = Func::cust("translate")
            .arg(Expr::col(T::Title))
            .arg(UPPER)
            .arg(LOWER);
        Func::cust("convert_to").arg(folded).arg("UTF8").into()
    } else {
        Func::lower(Expr::col(T::Title)).into()
    }
}

fn list_statement(backend: Backend, user: &UserId, q: &TaskQuery) -> SelectStatement {
    let order = match q.order {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    let mut stmt = Query::select();
    stmt.columns(COLUMNS)
        .from(T::Table)
        .and_where(Expr::col(T::UserId).eq(user.as_str()));
    if let Some(cond) = status_condition(q.status) {
        stmt.and_where(cond);
    }
    match q.sort {
        SortKey::Created => stmt.order_by(T::CreatedAt, order.clone()),
        SortKey::Updated => stmt.order_by(T::UpdatedAt, order.clone()),
        SortKey::Title => stmt.order_by_expr(title_key(backend), order.clone()),
        SortKey::Priority => stmt.order_by_expr(
            Expr::case(Expr::col(T::Priority).eq("high"), 3)
                .case(Expr::col(T::Priority).eq("normal"), 2)
                .finally(1)
                .into(),
            order.clone(),
        ),
        // Tasks without a due date come last in either direction.
        SortKey::DueDate => stmt.order_by_with_nulls(T::DueDate, order.clone(), NullOrdering::Last),
    };
    stmt.order_by(T::Id, order).limit(q.limit).offset(q.offset);
    stmt
}

fn counts_statement(user: &UserId, status: StatusFilter) -> SelectStatement {
    let filtered: SimpleExpr = match status_condition(status) {
        Some(cond) => Func::count(Expr::case(cond, 1)).into(),
        None => Func::count(Expr::col(Asterisk)).into(),
    };
    Query::select()
        .expr_as(Func::count(Expr::col(Asterisk)), "total")
        .expr_as(filtered, "filtered")
        .from(T::Table)
        .and_where(Expr::col(T::UserId).eq(user.as_str()))
        .to_owned()
}

impl Store {
    pub async fn list_tasks(&self, user: &UserId, q: &TaskQuery) -> Result<TaskPage> {
        let rows: Vec<TaskRow> = self
            .fetch_all(&list_statement(self.backend(), user, q))
            .await?;
        let counts: Counts = self.fetch_one(&counts_statement(user, q.status)).await?;
        Ok(TaskPage {
            tasks: rows.into_iter().map(Task::from).collect(),
            total_count: counts.total,
            filtered_count: counts.filtered,
        })
    }

    /// The task with this id if `user` owns it.
    pub async fn get_task(&self, user: &UserId, id: TaskId) -> Result<Option<Task>> {
        let stmt = Query::select()
            .columns(COLUMNS)
            .from(T::Table)
            .cond_where(owned(user, id))
            .to_owned();
        let row: Option<TaskRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map(Task::from))
    }
}

impl Tx {
    pub async fn insert_task(
        &mut self,
        user: &UserId,
        task: NewTask,
        now: DateTime<Utc>,
    ) -> Result<Task> {
        let now = time::to_db(now);
        let stmt = Query::insert()
            .into_table(T::Table)
            .columns([
                T::UserId,
                T::Title,
                T::Description,
                T::Completed,
                T::Priority,
                T::DueDate,
                T::CreatedAt,
                T::UpdatedAt,
            ])
            .values_panic([
                user.as_str().into(),
                task.title.into_inner().into(),
                task.description.into(),
                task.completed.into(),
                task.priority.as_str().into(),
                task.due_date.map(time::to_db).into(),
                now.into(),
                now.into(),
            ])
            .returning(returning())
            .to_owned();
        let row: TaskRow = self.fetch_one(&stmt).await?;
        Ok(row.into())
    }

    /// Applies `patch` to the user's task; `None` when there is no such task.
    pub async fn update_task(
        &mut self,
        user: &UserId,
        id: TaskId,
        patch: TaskPatch,
        now: DateTime<Utc>,
    ) -> Result<Option<Task>> {
        let mut stmt = Query::update();
        stmt.table(T::Table).value(T::UpdatedAt, time::to_db(now));
        if let Some(title) = patch.title {
            stmt.value(T::Title, title.into_inner());
        }
        if let Some(description) = patch.description {
            stmt.value(T::Description, description);
        }
        if let Some(completed) = patch.completed {
            stmt.value(T::Completed, completed);
        }
        if let Some(priority) = patch.priority {
            stmt.value(T::Priority, priority.as_str());
        }
        if let Some(due_date) = patch.due_date {
            stmt.value(T::DueDate, due_date.map(time::to_db));
        }
        stmt.cond_where(owned(user, id)).returning(returning());
        let row: Option<TaskRow> = self.fetch_optional(&stmt).await?;
        Ok(row.map(Task::from))
    }

    /// Deletes the user's task; false when there was no such task.
    pub async fn delete_task(&mut self, user: &UserId, id: TaskId) -> Result<bool> {
        let stmt = Query::delete()
            .from_table(T::Table)
            .cond_where(owned(user, id))
            .to_owned();
        Ok(self.execute(&stmt).await? > 0)
    }
}
