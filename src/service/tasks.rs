use tracing::instrument;

use super::{Actor, Committed, Key, Service, rows};
use crate::domain::{NewTask, Task, TaskId, TaskPage, TaskPatch, TaskQuery, UserId, time};
use crate::error::{Error, Result};
use crate::protocol::{EventName, TaskDeleted};

fn task_not_found() -> Error {
    Error::not_found("Task not found")
}

impl Service {
    #[instrument(skip_all, fields(user = ?actor.user.as_str()))]
    pub async fn create_task(&self, actor: &Actor, task: NewTask) -> Result<Committed<Task>> {
        let key = actor.key("task.create", &task)?;
        let user = actor.user.clone();
        let write = rows(move |tx| {
            let (user, task) = (user.clone(), task.clone());
            Box::pin(async move { tx.insert_task(&user, task, time::now()).await })
        });
        self.change(actor, EventName::TaskCreated, key, write).await
    }

    #[instrument(skip_all, fields(user = ?user.as_str()))]
    pub async fn list_tasks(&self, user: &UserId, query: &TaskQuery) -> Result<TaskPage> {
        self.store.list_tasks(user, query).await
    }

    /// A task of another user is "not found": existence is never leaked.
    #[instrument(skip_all, fields(user = ?user.as_str(), task_id = id.get()))]
    pub async fn get_task(&self, user: &UserId, id: TaskId) -> Result<Task> {
        self.store
            .get_task(user, id)
            .await?
            .ok_or_else(task_not_found)
    }

    #[instrument(skip_all, fields(user = ?actor.user.as_str(), task_id = id.get()))]
    pub async fn update_task(
        &self,
        actor: &Actor,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<Committed<Task>> {
        let key = actor.key("task.update", &(id, &patch))?;
        self.patch_task(actor, id, patch, key).await
    }

    #[instrument(skip_all, fields(user = ?actor.user.as_str(), task_id = id.get()))]
    pub async fn complete_task(
        &self,
        actor: &Actor,
        id: TaskId,
        completed: bool,
    ) -> Result<Committed<Task>> {
        let key = actor.key("task.complete", &(id, completed))?;
        self.patch_task(actor, id, TaskPatch::completed(completed), key)
            .await
    }

    async fn patch_task(
        &self,
        actor: &Actor,
        id: TaskId,
        patch: TaskPatch,
        key: Option<Key>,
    ) -> Result<Committed<Task>> {
        let user = actor.user.clone();
        let write = rows(move |tx| {
            let (user, patch) = (user.clone(), patch.clone());
            Box::pin(async move {
                tx.update_task(&user, id, patch, time::now())
                    .await?
                    .ok_or_else(task_not_found)
            })
        });
        self.change(actor, EventName::TaskUpdated, key, write).await
    }

    #[instrument(skip_all, fields(user = ?actor.user.as_str(), task_id = id.get()))]
    pub async fn delete_task(&self, actor: &Actor, id: TaskId) -> Result<Committed<TaskDeleted>> {
        let key = actor.key("task.delete", &id)?;
        let user = actor.user.clone();
        let write = rows(move |tx| {
            let user = user.clone();
            Box::pin(async move {
                if tx.delete_task(&user, id).await? {
                    Ok(TaskDeleted { task_id: id })
                } else {
                    Err(task_not_found())
                }
            })
        });
        self.change(actor, EventName::TaskDeleted, key, write).await
    }
}
