//! The SSRF guard. Names are resolved by [`GuardedResolver`], which hands
//! reqwest only addresses that passed [`is_forbidden_ip`]: the connection
//! goes to exactly the address that was checked, so a name that resolves
//! to a public address for the check and a private one for the connect
//! (DNS rebinding) cannot get through. Literal IP hosts never reach a
//! resolver and are checked by [`check_literal`].

use std::net::SocketAddr;

use herald_domain::webhook::{is_forbidden_ip, literal_ip};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, thiserror::Error)]
#[error(
    "refused: {host} resolves only to private, loopback or otherwise internal addresses ({addrs})"
)]
pub struct Refused {
    host: String,
    addrs: String,
}

/// Resolves with the system resolver and drops every forbidden address.
#[derive(Debug, Default, Clone)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            // Port 0: reqwest puts the URL's port on the addresses.
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| !is_forbidden_ip(a.ip()))
                .collect();
            if allowed.is_empty() {
                let addrs = all
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(Refused { host, addrs }) as Box<_>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A literal IP host is checked here (no resolver sees it).
pub fn check_literal(url: &reqwest::Url) -> Result<(), String> {
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) => literal_ip(d),
        None => return Err("the URL has no host".into()),
    };
    match ip {
        Some(ip) if is_forbidden_ip(ip) => Err(format!(
            "refused: {ip} is a private, loopback or otherwise internal address"
        )),
        _ => Ok(()),
    }
}
