//! Table and column names, shared with the old backend's schema.

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub enum Task {
    Table,
    Id,
    UserId,
    Title,
    Description,
    Completed,
    Priority,
    DueDate,
    CreatedAt,
    UpdatedAt,
}
