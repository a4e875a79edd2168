//! Rust errors as Python exceptions.
//!
//! Invariants: every Rust error becomes an instance of a class of `objstore.errors` (defined in
//! Python, so that each can also be the built-in exception Python code catches for the same
//! situation: `KeyError`, `ValueError`, `PermissionError`, `OSError`), with the Rust error's
//! message unchanged. Errors of non-exhaustive enums that this module does not know yet become
//! the base class `ObjstoreError`, never a panic. No message carries a credential (the Rust
//! errors promise that).

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use objstore::Error as StoreError;
use objstore::manager::Error as ManagerError;
use objstore::monitor::Error as MonitorError;

/// An exception of class `name` (in `objstore.errors`) with `message`.
pub fn raise(py: Python<'_>, name: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    let class = py.import("objstore.errors").and_then(|m| m.getattr(name)).and_then(|c| Ok(c.cast_into::<PyType>()?));
    match class {
        Ok(class) => PyErr::from_type(class, (message,)),
        // The package is broken (objstore.errors missing): still say what went wrong.
        Err(_) => PyOSError::new_err(message),
    }
}

/// An `OSError` for failures outside any store (the runtime could not start).
pub fn storage_error(message: String) -> PyErr {
    PyOSError::new_err(message)
}

/// The class of `objstore.errors` for a store error.
fn store_class(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { .. } => "NotFoundError",
        StoreError::InvalidKey { .. } => "InvalidKeyError",
        StoreError::LimitExceeded { .. } => "LimitExceededError",
        StoreError::PermissionDenied { .. } => "PermissionDeniedError",
        StoreError::AlreadyExists { .. } => "AlreadyExistsError",
        StoreError::Precondition { .. } => "PreconditionError",
        StoreError::Serialization { .. } => "SerializationError",
        StoreError::Conflict { .. } => "ConflictError",
        StoreError::Io { .. } | StoreError::Backend { .. } | StoreError::NotSupported { .. } => "StorageError",
        StoreError::Config { .. } => "ConfigError",
        _ => "ObjstoreError",
    }
}

fn manager_class(e: &ManagerError) -> &'static str {
    match e {
        ManagerError::Store(e) => store_class(e),
        ManagerError::Settings(_) => "ConfigError",
        ManagerError::InvalidCategory(_) => "InvalidCategoryError",
        ManagerError::Disabled => "DisabledError",
        ManagerError::ObjectTooLarge { .. } => "ObjectTooLargeError",
        ManagerError::QuotaExceeded { .. } => "QuotaExceededError",
        ManagerError::SavesRefused { .. } => "SavesRefusedError",
        ManagerError::Corrupt { .. } => "CorruptError",
        ManagerError::NotManaged { .. } => "NotManagedError",
        ManagerError::Serialization { .. } => "SerializationError",
        _ => "ObjstoreError",
    }
}

fn monitor_class(e: &MonitorError) -> &'static str {
    match e {
        MonitorError::Manager(e) => manager_class(e),
        MonitorError::Serve { .. } => "StorageError",
        _ => "ObjstoreError",
    }
}

/// Converts a Rust error of any layer into its Python exception.
pub trait ToPyErr {
    /// The exception.
    fn to_py(self, py: Python<'_>) -> PyErr;
}

impl ToPyErr for StoreError {
    fn to_py(self, py: Python<'_>) -> PyErr {
        raise(py, store_class(&self), self.to_string())
    }
}

impl ToPyErr for ManagerError {
    fn to_py(self, py: Python<'_>) -> PyErr {
        raise(py, manager_class(&self), self.to_string())
    }
}

impl ToPyErr for MonitorError {
    fn to_py(self, py: Python<'_>) -> PyErr {
        raise(py, monitor_class(&self), self.to_string())
    }
}

/// `result.map_err(|e| e.to_py(py))`, shorter.
pub trait PyResultExt<T> {
    /// The result with its error as a Python exception.
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: ToPyErr> PyResultExt<T> for Result<T, E> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.to_py(py))
    }
}
