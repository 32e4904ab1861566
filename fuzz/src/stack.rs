//! One local stack per fuzzing process, started on first use. It is started lazily, not before
//! AFL++'s fork server forks, because a tokio runtime's threads do not survive a fork.

use kinvex_auth::discovery::Provider;
use kinvex_auth::http::HttpClient;
use kinvex_devstack::Running;
use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::Runtime;

/// The longest any one input may take: past it the input counts as a hang.
pub const PER_INPUT: Duration = Duration::from_secs(5);

pub struct Shared {
    pub runtime: Runtime,
    pub stack: Running,
    pub http: HttpClient,
    /// The stack's provider, as the app discovers it.
    pub provider: Provider,
}

impl Shared {
    /// Runs `work` on the shared runtime, failing the input if it does not finish in time.
    pub fn run<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime
            .block_on(async { tokio::time::timeout(PER_INPUT, work).await })
            .unwrap_or_else(|_| panic!("an input took longer than {PER_INPUT:?}: a hang"))
    }
}

pub fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("no tokio runtime: {e}"));
        let (stack, http, provider) = runtime.block_on(async {
            let config = kinvex_devstack::Config {
                any_loopback_port: true,
                // Retries would only slow a fuzzer down.
                webhook_retries: Vec::new(),
                ..kinvex_devstack::Config::default()
            };
            let stack = kinvex_devstack::start(config)
                .await
                .unwrap_or_else(|e| panic!("the local stack did not start: {e}"));
            let http = HttpClient::new().unwrap_or_else(|e| panic!("no HTTP client: {e}"));
            let issuer = url::Url::parse(&format!("{}/", stack.issuer()))
                .unwrap_or_else(|e| panic!("the stack's issuer is not a URL: {e}"));
            let provider = Provider::discover(&http, &issuer)
                .await
                .unwrap_or_else(|e| panic!("discovery on the local stack failed: {e}"));
            (stack, http, provider)
        });
        Shared {
            runtime,
            stack,
            http,
            provider,
        }
    })
}
