use tracing::instrument;

use super::Service;
use crate::domain::{NewTask, Task, TaskId, TaskPage, TaskPatch, TaskQuery, UserId, time};
use crate::error::{Error, Result};

fn task_not_found() -> Error {
    Error::not_found("Task not found")
}

impl Service {
    #[instrument(skip_all, fields(user = %user))]
    pub async fn create_task(&self, user: &UserId, task: NewTask) -> Result<Task> {
        let mut tx = self.store.begin().await?;
        let task = tx.insert_task(user, task, time::now()).await?;
        tx.commit().await?;
        Ok(task)
    }

    #[instrument(skip_all, fields(user = %user))]
    pub async fn list_tasks(&self, user: &UserId, query: &TaskQuery) -> Result<TaskPage> {
        self.store.list_tasks(user, query).await
    }

    /// A task of another user is "not found": existence is never leaked.
    #[instrument(skip_all, fields(user = %user, task_id = id))]
    pub async fn get_task(&self, user: &UserId, id: TaskId) -> Result<Task> {
        self.store
            .get_task(user, id)
            .await?
            .ok_or_else(task_not_found)
    }

    #[instrument(skip_all, fields(user = %user, task_id = id))]
    pub async fn update_task(&self, user: &UserId, id: TaskId, patch: TaskPatch) -> Result<Task> {
        let mut tx = self.store.begin().await?;
        let task = tx
            .update_task(user, id, patch, time::now())
            .await?
            .ok_or_else(task_not_found)?;
        tx.commit().await?;
        Ok(task)
    }

    #[instrument(skip_all, fields(user = %user, task_id = id))]
    pub async fn complete_task(&self, user: &UserId, id: TaskId, completed: bool) -> Result<Task> {
        self.update_task(user, id, TaskPatch::completed(completed))
            .await
    }

    #[instrument(skip_all, fields(user = %user, task_id = id))]
    pub async fn delete_task(&self, user: &UserId, id: TaskId) -> Result<()> {
        let mut tx = self.store.begin().await?;
        if !tx.delete_task(user, id).await? {
            return Err(task_not_found());
        }
        tx.commit().await
    }
}
