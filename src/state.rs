//! What every REST handler and WebSocket session can reach.

use std::sync::Arc;

use crate::{auth::Authenticator, config::Settings, service::Service, shutdown::Shutdown};

/// Built once by `startup`, shared by every request (axum's `State<AppState>`).
pub struct App {
    pub service: Service,
    pub auth: Authenticator,
    pub settings: Settings,
    pub shutdown: Shutdown,
}

pub type AppState = Arc<App>;
