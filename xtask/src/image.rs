//! The container image the testcontainers suite runs: `FROM scratch` plus the static `weed`
//! binary, built locally (no registry needed).

use std::process::Command;

use crate::tools::{SEAWEEDFS_VERSION, Tools};

/// The image's name (its tag is the SeaweedFS version).
pub const IMAGE: &str = "local/objstore-seaweedfs";

/// Builds the image unless it exists. Without Docker, says so: the container suite then fails
/// with its own explanation.
pub fn ensure(tools: &Tools) -> Result<(), String> {
    let reference = format!("{IMAGE}:{SEAWEEDFS_VERSION}");
    match Command::new("docker").args(["image", "inspect", &reference]).output() {
        Err(e) => {
            eprintln!("xtask: docker is not available ({e}); the testcontainers suite will fail");
            return Ok(());
        }
        Ok(out) if out.status.success() => return Ok(()),
        Ok(_) => {}
    }
    let context = tools.dir.join("image");
    std::fs::create_dir_all(&context).map_err(|e| format!("cannot create {}: {e}", context.display()))?;
    let weed = context.join("weed");
    let _ = std::fs::remove_file(&weed);
    if std::fs::hard_link(&tools.weed, &weed).is_err() {
        std::fs::copy(&tools.weed, &weed).map_err(|e| format!("cannot copy weed: {e}"))?;
    }
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY weed /weed\nWORKDIR /tmp\nWORKDIR /data\nENTRYPOINT [\"/weed\"]\n",
    )
    .map_err(|e| format!("cannot write the Dockerfile: {e}"))?;
    eprintln!("xtask: building the container image {reference}");
    let status = Command::new("docker")
        .args(["build", "--quiet", "-t", &reference])
        .arg(&context)
        .status()
        .map_err(|e| format!("cannot run docker build: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("docker build of {reference} failed ({status})")) }
}

/// The tag of a local `minio/minio` image, if there is one.
pub fn local_minio_tag() -> Option<String> {
    let out = Command::new("docker").args(["image", "ls", "minio/minio", "--format", "{{.Tag}}"]).output().ok()?;
    String::from_utf8(out.stdout)
        .ok()?
        .lines()
        .map(str::trim)
        .find(|t| !t.is_empty() && *t != "<none>")
        .map(String::from)
}
