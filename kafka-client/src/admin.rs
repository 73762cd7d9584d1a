//! Admin API (being written).
use crate::Client;
/// Admin API.
#[derive(Clone, Debug)]
pub struct Admin {
    client: Client,
}
impl Admin {
    /// New.
    pub fn new(client: Client) -> Admin {
        Admin { client }
    }
    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }
}
