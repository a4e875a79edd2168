//! The monitor's one error type.

/// `Result` with the monitor's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the monitor can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The manager (or the store beneath it) failed; its error says what to do.
    #[error(transparent)]
    Manager(#[from] store_manager::Error),

    /// The metrics could not be registered or encoded.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),

    /// The metrics endpoint could not start or stopped.
    #[error("the metrics endpoint on {addr} failed: {message}; pick a free port or check the address")]
    Serve {
        /// The address it was asked to listen on.
        addr: std::net::SocketAddr,
        /// What went wrong.
        message: String,
    },
}

impl From<store_core::Error> for Error {
    fn from(e: store_core::Error) -> Error {
        Error::Manager(e.into())
    }
}
