//! TLS for every HTTP client in helphive (the terminal's, the channel connectors'): rustls with
//! the ring provider and the system's certificate store. The provider is installed once per
//! process before the first client is built.

use std::sync::Once;

/// Installs the process-wide crypto provider; safe to call any number of times.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with TLS ready.
pub fn client_builder() -> reqwest::ClientBuilder {
    init();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn https_clients_can_be_built() {
        // Without an installed provider, building a client panics or fails.
        assert!(super::client_builder().build().is_ok());
        assert!(super::client_builder().build().is_ok(), "a second call is fine");
    }
}
