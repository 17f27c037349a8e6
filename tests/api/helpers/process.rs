//! The `taskwire` binary run as a user runs it, for what only a separate process
//! shows: its exit status, what it prints, and its whole log.
//!
//! Each run has a cleared environment and a temporary working directory, so no
//! `.env` is read and no `todo.db` is left behind; every wait is bounded.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    thread,
    time::{Duration, Instant},
};

/// How long a run may take to exit, or a server to print what a test waits for.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the binary runs: a temporary working directory, and a port nobody listens
/// on for it to serve on.
pub struct Sandbox {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `file` in the working directory.
    pub fn file(&self, file: &str) -> PathBuf {
        self.path().join(file)
    }

    /// A `DATABASE_URL` for the SQLite database `file` in the working directory.
    pub fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}", self.file(file).display())
    }

    /// `http://` plus the address the server started by `serve` listens on.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts `taskwire args…` here with only `env` set, its output captured.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_taskwire"));
        command.args(args);
        self.start(command, env)
    }

    /// Starts the server with a soft and a hard limit on open files (`ulimit -n`),
    /// to see what it does when file descriptors run short.
    pub fn serve_with_open_files(&self, soft: u32, hard: u32, env: &[(&str, &str)]) -> Process {
        let port = self.port.to_string();
        let mut env = env.to_vec();
        env.extend([("HOST", "127.0.0.1"), ("PORT", port.as_str())]);
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!(r#"ulimit -Sn {soft} && ulimit -Hn {hard} && exec "$0""#),
            env!("CARGO_BIN_EXE_taskwire"),
        ]);
        self.start(command, &env)
    }

    fn start(&self, mut command: Command, env: &[(&str, &str)]) -> Process {
        let mut child = command
            .current_dir(self.path())
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("taskwire starts");
        let stdout = Output::capture(child.stdout.take().unwrap());
        let stderr = Output::capture(child.stderr.take().unwrap());
        Process {
            child,
            stdout,
            stderr,
        }
    }

    /// Runs `taskwire args…` here to its end with only `env` set; fails the test if
    /// it takes longer than `TIMEOUT`.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Finished {
        self.spawn(args, env).wait()
    }

    /// Starts the server (`taskwire` with no command) on `127.0.0.1:port` with `env`.
    pub fn serve(&self, env: &[(&str, &str)]) -> Process {
        let port = self.port.to_string();
        let mut env = env.to_vec();
        env.extend([("HOST", "127.0.0.1"), ("PORT", port.as_str())]);
        self.spawn(&[], &env)
    }
}

/// A port nobody listens on right now, for a server started as a separate process.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `taskwire`, killed when the test ends, whether it passed or not.
pub struct Process {
    child: Child,
    stdout: Output,
    stderr: Output,
}

/// What a run printed and how it ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Process {
    /// Waits for the process to exit; fails the test after `TIMEOUT`.
    pub fn wait(mut self) -> Finished {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                panic!("taskwire did not exit within {TIMEOUT:?}");
            }
            thread::sleep(Duration::from_millis(20));
        };
        self.finish(status)
    }

    /// Kills the process and returns all it printed.
    pub fn kill(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.finish(status)
    }

    /// Waits for a stdout line containing `needle`, and returns the lines before it
    /// and that line; fails the test, showing all it printed, after `TIMEOUT`.
    pub fn wait_for_line(&self, needle: &str) -> (Vec<String>, String) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            {
                // The reader adds whole lines only, so every line seen is complete.
                let stdout = self.stdout.text.lock().unwrap();
                let lines: Vec<&str> = stdout.lines().collect();
                if let Some(at) = lines.iter().position(|line| line.contains(needle)) {
                    let before = lines[..at].iter().map(|line| line.to_string()).collect();
                    return (before, lines[at].to_owned());
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no {needle:?} line within {TIMEOUT:?}; stdout: {}; stderr: {}",
                    self.stdout.text.lock().unwrap(),
                    self.stderr.text.lock().unwrap()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The whole output, once the process has ended and its pipes are closed.
    fn finish(&mut self, status: ExitStatus) -> Finished {
        Finished {
            status,
            stdout: self.stdout.read_to_end(),
            stderr: self.stderr.read_to_end(),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of the process's pipes, read on a thread of its own as the process writes it,
/// so that it never blocks on a full pipe and a test can look at it while it runs.
struct Output {
    text: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Output {
    fn capture(pipe: impl Read + Send + 'static) -> Self {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let reader = thread::spawn(move || {
            let mut pipe = BufReader::new(pipe);
            let mut line = Vec::new();
            while let Ok(n) = pipe.read_until(b'\n', &mut line) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
        });
        Output {
            text,
            reader: Some(reader),
        }
    }

    /// Everything the pipe carried, once the process has closed it.
    fn read_to_end(&mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.text.lock().unwrap().clone()
    }
}
