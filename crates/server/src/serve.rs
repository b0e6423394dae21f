//! Serving the router on a listener until a shutdown signal, then shutting down gracefully:
//!
//! 1. new runs are refused (503 `shutting_down`), everything else keeps answering, so that
//!    clients can still poll the output of running runs;
//! 2. running runs are waited for, up to the grace period (`[server] shutdown_grace_secs`);
//! 3. event streams of runs still going end, and the HTTP server stops once its open requests
//!    are answered;
//! 4. runs still going are stopped (their process groups killed, private folders removed) and
//!    the engine's recovery settles their leases (rotation as each safe's policy says);
//! 5. the PVWA session is logged off.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::{AppState, router};

/// How long a stopping replica waits for the ends of its runs to reach the store.
const CLAIMED_STORE_WAIT: Duration = Duration::from_secs(15);

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("settling the credentials of stopped runs failed: {0}")]
    Recovery(#[from] arkbridge_engine::EngineError),
    #[error("{0}")]
    Schedule(String),
    #[error("cannot join the other replicas: {0}")]
    Cluster(#[from] arkbridge_store::StoreError),
}

/// What shutdown found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Runs still going when the grace period ended, and therefore stopped.
    pub stopped_runs: usize,
    /// This replica stopped because it was fenced (declared dead, or cut off from the store
    /// for the whole timeout), not because it was asked to.
    pub fenced: bool,
}

/// Serves until `signal` completes, then shuts down as the module says.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    grace: Duration,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<ShutdownReport, ServeError> {
    // The daily audit and the rotation retries run while serving. They stop when shutdown
    // begins, or when the server fails, as the scheduler is dropped with the shutdown future.
    // With several replicas (`cluster_node.rs`) the elected leader does the scheduled work.
    let cluster = crate::cluster_node::join(&state).await?;
    let scheduler = match cluster {
        Some(_) => None,
        None => Some(crate::scheduler::Scheduler::start(&state).map_err(ServeError::Schedule)?),
    };
    let mut fenced = state.fenced();
    let signal = async move {
        tokio::select! {
            () = signal => {}
            _ = fenced.wait_for(|f| *f) => {}
        }
    };
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let drain = state.clone();
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stopped_in = stopped.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            signal.await;
            tracing::info!(
                running = drain.runs.active(),
                grace_secs = grace.as_secs(),
                "shutting down: no new runs; waiting for running runs"
            );
            drain.begin_shutdown();
            if let Some(scheduler) = &scheduler {
                scheduler.stop();
            }
            let left = drain.runs.wait_idle(grace).await;
            stopped_in.store(left, std::sync::atomic::Ordering::SeqCst);
            drain.end_streams();
        })
        .await?;
    let stopped_runs = stopped.load(std::sync::atomic::Ordering::SeqCst);
    if stopped_runs > 0 {
        tracing::warn!(
            runs = stopped_runs,
            "the grace period ended: stopping the runs still going and settling their credentials"
        );
        state.runs.stop_all().await;
        let recovered = state.bridge.recover().await;
        state.bridge.shutdown().await;
        let report = recovered?;
        tracing::info!(rotated = ?report.rotated, "credentials of stopped runs settled");
    } else {
        state.bridge.shutdown().await;
    }
    if cluster.is_some() {
        // The ends of the runs this replica executed go to the store before it says it left:
        // a stopped replica's unfinished runs are ended as errors by the leader.
        let missing = state.runs.wait_claimed_stored(CLAIMED_STORE_WAIT).await;
        if missing > 0 {
            tracing::warn!(
                runs = missing,
                "the ends of some runs could not be stored before stopping"
            );
        }
    }
    drop(cluster);
    crate::cluster_node::leave(&state).await;
    tracing::info!("arkbridge serve stopped");
    let fenced = *state.fenced().borrow();
    Ok(ShutdownReport {
        stopped_runs,
        fenced,
    })
}
