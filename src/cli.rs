//! `taskwire import-catalog [FILE]`: a catalog import from the command line,
//! under the same cluster-wide lock (and the same database rule) as the page,
//! with a progress bar on a terminal and plain lines otherwise.

use std::{
    io::{IsTerminal, Write},
    path::Path,
    time::Duration,
};

use crate::{
    Config,
    app::Worker,
    catalog::import::start_import,
    jobs::{JobStatus, JobView, service},
};

/// How often the command reads the job's progress.
const POLL: Duration = Duration::from_millis(100);

/// Runs the import to its end. `Ok` with the job's closing message when it
/// completed; `Err` saying why when it could not start (the lock is held, the
/// file is unknown) or did not complete.
pub async fn import_catalog(mut config: Config, file: Option<String>) -> Result<String, String> {
    let name = match file {
        // A path names its own directory; a bare name is looked up in CATALOG_DIR.
        Some(file) if file.contains(['/', '\\']) => {
            let path = Path::new(&file);
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or("FILE names no file")?;
            config.catalog_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            Some(name)
        }
        other => other,
    };
    let worker = Worker::start(config).await.map_err(|e| e.to_string())?;
    let outcome = run(&worker, name.as_deref()).await;
    worker.stop().await;
    outcome
}

async fn run(worker: &Worker, name: Option<&str>) -> Result<String, String> {
    let state = &worker.state;
    let job = start_import(state, None, name).await.map_err(|e| e.public_message())?;
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    progress.show(&job);
    let mut interrupted = false;
    let finished = loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c(), if !interrupted => {
                interrupted = true;
                let _ = service::cancel_job(state, job.id).await;
            }
        }
        let current = service::current_view(state, job.id).await.map_err(|e| e.public_message())?;
        progress.show(&current);
        if current.status.is_finished() {
            break current;
        }
    };
    progress.done();
    match finished.status {
        JobStatus::Completed => Ok(finished.message.unwrap_or_else(|| "imported".into())),
        JobStatus::Cancelled => Err(format!("import job {} was cancelled", finished.id)),
        _ => Err(format!(
            "import job {} failed: {}",
            finished.id,
            finished.error_message.as_deref().unwrap_or("no reason given")
        )),
    }
}

/// The progress display: a bar redrawn in place on a terminal; a line per
/// tenth of the way (and per status change) when the output is a file or pipe.
struct Progress {
    terminal: bool,
    last: Option<(JobStatus, i64)>,
}

impl Progress {
    fn new(terminal: bool) -> Self {
        Progress { terminal, last: None }
    }

    fn show(&mut self, job: &JobView) {
        let tenth = job.progress_percent.map_or(-1, |p| (p / 10.0).floor() as i64);
        let step = (job.status, if self.terminal { job.items_processed } else { tenth });
        if self.last == Some(step) {
            return;
        }
        self.last = Some(step);
        let mut err = std::io::stderr().lock();
        let _ = if self.terminal {
            write!(err, "\r{}\x1b[K", line(job, true))
        } else {
            writeln!(err, "{}", line(job, false))
        };
        let _ = err.flush();
    }

    fn done(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

/// `[#########-----------] 45 / 100 (45%) · 2 failed` (the bar only on a terminal).
fn line(job: &JobView, bar: bool) -> String {
    let figures = match job.progress_percent {
        Some(percent) => format!("{} / {} ({}%)", job.items_processed, job.items_total, percent.round()),
        None => job.message.clone().unwrap_or_else(|| "starting".into()),
    };
    let failed = if job.items_failed > 0 { format!(" · {} failed", job.items_failed) } else { String::new() };
    let status = format!("{}: {figures}{failed}", job.status);
    if !bar {
        return format!("import job {} {status}", job.id);
    }
    const WIDTH: usize = 30;
    let filled = job.progress_percent.map_or(0, |p| ((p / 100.0) * WIDTH as f64).round() as usize).min(WIDTH);
    format!("[{}{}] {status}", "#".repeat(filled), "-".repeat(WIDTH - filled))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn job(total: i64, processed: i64, failed: i64) -> JobView {
        let mut model = crate::entity::job::Model {
            id: 7,
            kind: "catalog_import".into(),
            name: "Import catalog.csv".into(),
            scope: None,
            status: JobStatus::Running,
            runner: "server".into(),
            params: None,
            items_total: total,
            items_processed: processed,
            items_failed: failed,
            message: None,
            error_message: None,
            created_by: None,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            updated_at: Utc::now(),
            heartbeat_at: None,
            cancel_requested: false,
        };
        model.started_at = Some(model.created_at);
        JobView::from_model(&model, Utc::now())
    }

    #[test]
    fn lines_show_figures_and_the_bar_fills() {
        assert_eq!(line(&job(100, 45, 2), false), "import job 7 running: 45 / 100 (45%) · 2 failed");
        assert_eq!(
            line(&job(100, 50, 0), true),
            format!("[{}{}] running: 50 / 100 (50%)", "#".repeat(15), "-".repeat(15))
        );
        assert_eq!(line(&job(0, 0, 0), false), "import job 7 running: starting");
    }
}
