//! The `taskwire` command: `serve [--demo]`, `migrate`, `import-catalog [FILE]`, `create-user`.

use std::{io::BufRead, process::ExitCode};

use clap::{Parser, Subcommand};
use taskwire::{Application, Config, db, demo::DEMO_USERS, users::service::create_user};
use tracing_subscriber::{EnvFilter, fmt::writer::BoxMakeWriter};

#[derive(Parser)]
#[command(
    name = "taskwire",
    version,
    about = "A real-time task-workflow server: REST API, WebSocket hub and browser pages in one binary."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server (migrations are applied at start).
    Serve {
        /// Creates demo users and allows running without JWT_SECRET.
        #[arg(long)]
        demo: bool,
    },
    /// Applies pending database migrations and exits.
    Migrate,
    /// Imports a catalog file (CSV, or CommerceML import.xml with offers.xml beside it)
    /// under the same cluster-wide lock as the stores page, showing progress; exits
    /// non-zero when the import fails or another one holds the lock.
    ImportCatalog {
        /// A file name in CATALOG_DIR, or a path; default: import.xml, else the first CSV file in CATALOG_DIR.
        file: Option<String>,
    },
    /// Creates a user; the password comes from --password or the first line of stdin.
    CreateUser {
        #[arg(long)]
        username: String,
        /// ADMIN or ADMIN_LIMITED
        #[arg(long, default_value = "ADMIN_LIMITED")]
        role: String,
        #[arg(long)]
        password: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A command's own output is its progress and result: only warnings are logged, to stderr.
    let command_output = matches!(cli.command, Command::ImportCatalog { .. });
    let (default_filter, writer) = if command_output {
        ("warn", BoxMakeWriter::new(std::io::stderr))
    } else {
        ("info,sqlx=warn,sea_orm=warn", BoxMakeWriter::new(std::io::stdout))
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter)))
        .with_writer(writer)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("taskwire: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { demo } => {
            let config = Config::from_env(demo).map_err(|e| e.to_string())?;
            taskwire::fd_limit::raise_for(config.ws_max_sessions);
            let app = Application::build(config).await.map_err(|e| e.to_string())?;
            let url = format!("http://{}", app.local_addr());
            tracing::info!(%url, "taskwire is listening");
            if demo {
                eprintln!("\n  taskwire demo is running at {url}\n");
                for (username, password, role) in DEMO_USERS {
                    eprintln!("    {:<14} {username} / {password}", role.as_str());
                }
                eprintln!();
            }
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let config = Config::from_env(true).map_err(|e| e.to_string())?;
            let connection = db::connect(&config.database_url).await.map_err(|e| e.to_string())?;
            db::migrate(&connection).await.map_err(|e| e.to_string())?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::ImportCatalog { file } => {
            let mut config = Config::from_env(true).map_err(|e| e.to_string())?;
            config.demo = false;
            let message = taskwire::cli::import_catalog(config, file).await?;
            println!("{message}");
            Ok(())
        }
        Command::CreateUser { username, role, password } => {
            let config = Config::from_env(true).map_err(|e| e.to_string())?;
            let password = match password {
                Some(password) => password,
                None => {
                    eprint!("password for {username}: ");
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let connection = db::connect(&config.database_url).await.map_err(|e| e.to_string())?;
            db::migrate(&connection).await.map_err(|e| e.to_string())?;
            let user = create_user(&connection, &username, &password, &role).await.map_err(|e| e.public_message())?;
            eprintln!("created user {} ({}) with id {}", user.username, user.role.as_str(), user.id);
            Ok(())
        }
    }
}
