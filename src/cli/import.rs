//! `wheelhouse import`: a folder of distributions or a devpi export into projects, with a
//! progress bar and a summary.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::auth::Caller;
use crate::blobs::BlobStore;
use crate::db;
use crate::db::Db;
use crate::model::Visibility;
use crate::python::archive::Limits;
use crate::registry::import::{self, Batch, ImportReport};
use crate::registry::{directory, structure};

#[derive(Args)]
pub(super) struct ImportArgs {
    /// A folder of wheels and sdists, searched with its subfolders (pypiserver's packages
    /// directory, or what `pip download -d DIR` wrote).
    #[arg(required_unless_present = "devpi_export", requires = "project")]
    dir: Option<PathBuf>,
    /// The project the folder's files go to, created private with any missing group above it.
    #[arg(long)]
    project: Option<String>,
    /// A `devpi-export` dump instead: each index USER/INDEX becomes the new project
    /// GROUP/USER-INDEX (created private), keeping devpi's upload times.
    #[arg(long, conflicts_with = "dir", requires = "group")]
    devpi_export: Option<PathBuf>,
    /// The group that receives a devpi export's projects (created private when missing).
    #[arg(long)]
    group: Option<String>,
    /// Also import into projects that exist already (to resume an import, or to add to a
    /// project on purpose). Without it an existing project is refused, by name, before
    /// anything is imported: a dump's index names must not pick where its files land.
    #[arg(long)]
    into_existing: bool,
}

/// Imports what the arguments name; fails (after the summary) when a file was refused.
pub(super) fn run(
    db: &Db,
    blobs: &BlobStore,
    max_file_bytes: u64,
    args: ImportArgs,
) -> anyhow::Result<()> {
    let batches: Vec<(String, Batch)> = match (&args.dir, &args.devpi_export) {
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
                    (project, index.batch)
                })
                .collect()
        }
        (None, None) => anyhow::bail!("name a folder, or --devpi-export DIR"),
    };
    if !args.into_existing {
        let conn = db.get()?;
        let existing: Vec<&str> = batches
            .iter()
            .map(|(project, _)| project.as_str())
            .filter(|project| directory::project(&conn, &Caller::Operator, project).is_ok())
            .collect();
        if !existing.is_empty() {
            anyhow::bail!(
                "the project{} {} exist{} already: import creates new projects; add \
                 --into-existing to import into {} (nothing was imported)",
                if existing.len() == 1 { "" } else { "s" },
                existing.join(", "),
                if existing.len() == 1 { "s" } else { "" },
                if existing.len() == 1 { "it" } else { "them" },
            );
        }
    }
    let total = batches.iter().map(|(_, b)| b.files.len() as u64).sum();
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg} ({eta} left)")
            .expect("a valid template"),
    );
    let mut summary = ImportReport::default();
    for (project, batch) in batches {
        summary.refused.extend(batch.refused);
        summary.skipped.extend(batch.skipped);
        let files = batch.files;
        let writer = {
            let mut conn = db.get()?;
            ensure(&mut conn, &project)?;
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

/// Creates the project (private) unless it exists, with every group above it that is missing
/// (as the README's `--project acme/legacy` on a fresh registry needs).
fn ensure(conn: &mut rusqlite::Connection, project: &str) -> anyhow::Result<()> {
    let project = project.trim_matches('/');
    if directory::project(conn, &Caller::Operator, project).is_ok() {
        return Ok(());
    }
    let segments: Vec<&str> = project.split('/').collect();
    for depth in 1..segments.len() {
        let above = segments[..depth].join("/");
        if db::namespaces::find_by_path(conn, &above)?.is_none() {
            structure::create_at(conn, &Caller::Operator, &above, Visibility::Private, false)?;
        }
    }
    structure::create_at(conn, &Caller::Operator, project, Visibility::Private, true)?;
    Ok(())
}
