//! The service layer: what each request means, shared by the REST routes and the
//! WebSocket frame handlers, which are thin adapters over it.

mod tasks;

use crate::store::Store;

/// Cheap to clone; one per server.
#[derive(Clone)]
pub struct Service {
    store: Store,
}

impl Service {
    pub fn new(store: Store) -> Self {
        Service { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
