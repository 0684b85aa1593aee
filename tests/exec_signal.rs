//! The spawn path after a signal, in a process of its own (the flag is process-wide): a child
//! running when the signal arrives is stopped, unless it was started whole (`docker create`,
//! `docker tag`), which runs to its end; no child starts after it, a scheduled job that had
//! not started never does, and clean-up commands still run.

use std::path::Path;
use std::time::{Duration, Instant};

use imagemk::exec::{self, Cmd, Streamed};
use imagemk::scheduler::{self, State};
use imagemk::signal;

#[test]
fn after_a_signal_no_child_starts_and_running_ones_are_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = |name: &str| tmp.path().join(name);
    let touch = |p: &Path| Cmd::new("touch").arg(p.to_string_lossy());

    // A child that is running when the signal arrives gets SIGTERM at once; one started
    // whole finishes.
    let running = std::thread::spawn(|| exec::capture(&Cmd::new("sleep").arg("30")));
    let whole = std::thread::spawn(|| {
        exec::capture_whole(&Cmd::new("sh").args(["-c", "sleep 1; echo finished"]))
    });
    let stream = std::thread::spawn(|| {
        Streamed::start(&Cmd::new("sleep").arg("30")).and_then(|s| s.finish(|_| {}))
    });
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    signal::interrupt();
    let err = running.join().unwrap().unwrap_err();
    assert!(
        err.downcast_ref::<signal::Interrupted>().is_some(),
        "{err:#}"
    );
    let (code, _) = stream.join().unwrap().unwrap();
    assert_eq!(code, 128 + 15);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(whole.join().unwrap().unwrap().stdout, "finished\n");

    // Nothing starts afterwards, whichever way it is started.
    for capture in [exec::capture, exec::capture_whole] {
        let err = capture(&touch(&marker("captured"))).unwrap_err();
        assert!(
            err.downcast_ref::<signal::Interrupted>().is_some(),
            "{err:#}"
        );
    }
    assert!(Streamed::start(&touch(&marker("streamed"))).is_err());
    assert!(exec::interactive(&touch(&marker("interactive"))).is_err());
    for name in ["captured", "streamed", "interactive"] {
        assert!(!marker(name).exists(), "{name} started after the signal");
    }
    let states = scheduler::run(&[vec![], vec![]], 2, false, |_| {
        panic!("a job started after the signal")
    });
    assert_eq!(states, [State::NotStarted, State::NotStarted]);

    // Clean-up still runs.
    exec::capture_cleanup(&touch(&marker("cleanup"))).unwrap();
    assert!(marker("cleanup").exists());
}
