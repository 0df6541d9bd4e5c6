//! `wheelhouse import`: a folder of distributions or a devpi export into projects, with a
//! progress bar and a summary.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::auth::Caller;
use crate::blobs::BlobStore;
use crate::db::Db;
use crate::model::Visibility;
use crate::python::archive::Limits;
use crate::registry::import::{self, Candidate, ImportReport};
use crate::registry::{directory, structure};

#[derive(Args)]
pub(super) struct ImportArgs {
    /// A folder of wheels and sdists, searched with its subfolders (pypiserver's packages
    /// directory, or what `pip download -d DIR` wrote).
    #[arg(required_unless_present = "devpi_export", requires = "project")]
    dir: Option<PathBuf>,
    /// The project the folder's files go to (created private when missing).
    #[arg(long)]
    project: Option<String>,
    /// A `devpi-export` dump instead: each index USER/INDEX becomes the project
    /// GROUP/USER-INDEX (created private when missing), keeping devpi's upload times.
    #[arg(long, conflicts_with = "dir", requires = "group")]
    devpi_export: Option<PathBuf>,
    /// The group that receives a devpi export's projects (created private when missing).
    #[arg(long)]
    group: Option<String>,
}

/// Imports what the arguments name; fails (after the summary) when a file was refused.
pub(super) fn run(
    db: &Db,
    blobs: &BlobStore,
    max_file_bytes: u64,
    args: ImportArgs,
) -> anyhow::Result<()> {
    let batches: Vec<(String, Vec<Candidate>)> = match (&args.dir, &args.devpi_export) {
        (Some(dir), _) => {
            let project = args.project.clone().unwrap_or_default();
            vec![(project, import::folder(dir)?)]
        }
        (None, Some(export)) => {
            let group = args.group.clone().unwrap_or_default();
            import::devpi_export(export)?
                .into_iter()
                .map(|index| {
                    let project = format!("{group}/{}", index.name.replace('/', "-"));
                    (project, index.files)
                })
                .collect()
        }
        (None, None) => anyhow::bail!("name a folder, or --devpi-export DIR"),
    };
    let total = batches.iter().map(|(_, files)| files.len() as u64).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg} ({eta} left)")
            .expect("a valid template"),
    );
    let mut summary = ImportReport::default();
    for (project, files) in batches {
        let writer = {
            let mut conn = db.get()?;
            if let Some(group) = &args.group {
                ensure(&mut conn, group, false)?;
            }
            ensure(&mut conn, &project, true)?;
            let found = directory::project(&conn, &Caller::Operator, &project)?;
            crate::access::write_project(&conn, &Caller::Operator, found)?
        };
        bar.set_message(project.clone());
        let limits = Limits::default();
        let report = import::import(db, blobs, &limits, max_file_bytes, &writer, &files, |_| {
            bar.inc(1)
        })?;
        summary.imported += report.imported;
        summary.already_present += report.already_present;
        summary.refused.extend(report.refused);
    }
    bar.finish_and_clear();
    println!("{summary}");
    if !summary.refused.is_empty() {
        anyhow::bail!(
            "{} files were refused (listed above)",
            summary.refused.len()
        );
    }
    Ok(())
}

/// Creates a group or project (private) unless it exists.
fn ensure(conn: &mut rusqlite::Connection, path: &str, project: bool) -> anyhow::Result<()> {
    let exists = if project {
        directory::project(conn, &Caller::Operator, path).is_ok()
    } else {
        directory::group(conn, &Caller::Operator, path).is_ok()
    };
    if !exists {
        structure::create_at(conn, &Caller::Operator, path, Visibility::Private, project)?;
    }
    Ok(())
}
