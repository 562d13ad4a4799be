//! Which addresses a team's provider may reach. A team types its provider's base URL, and anyone
//! who signs up owns a team, so without this a stranger could make Cairn post to its own loopback,
//! the cloud's metadata address or any service on the private network, and read the answers back
//! through "Test connection". Every address is checked after resolution, on every connection
//! ([`GuardedResolver`]), so a name cannot resolve to a public address when saved and a private one
//! when called. The instance's own providers (`[llm]` in `cairn.toml`) are the operator's and are
//! not checked.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Addresses a team's provider may reach besides public ones: `llm.allowed_private_hosts`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Host names allowed whatever they resolve to (lowercase).
    names: Vec<String>,
    /// Networks allowed: address and prefix length.
    networks: Vec<(IpAddr, u8)>,
}

/// Why a URL or an address is refused; shown to the team as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl AddressPolicy {
    /// Reads `llm.allowed_private_hosts`: host names, addresses and CIDR networks
    /// (`localhost`, `127.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if let Some((address, prefix)) = entry.split_once('/') {
                let address: IpAddr = address
                    .parse()
                    .map_err(|_| format!("{entry:?} is not a network such as 10.0.0.0/8"))?;
                let most = if address.is_ipv4() { 32 } else { 128 };
                let prefix: u8 = prefix
                    .parse()
                    .ok()
                    .filter(|p| *p <= most)
                    .ok_or_else(|| format!("{entry:?}: the prefix must be 0–{most}"))?;
                policy.networks.push((address, prefix));
            } else if let Ok(address) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                let most = if address.is_ipv4() { 32 } else { 128 };
                policy.networks.push((address, most));
            } else if !entry.is_empty()
                && entry
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                policy.names.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{entry:?} is not a host name, an address or a network"
                ));
            }
        }
        Ok(policy)
    }

    /// Whether `name` is allowed whatever it resolves to.
    fn allows_name(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.names.contains(&name)
    }

    /// `Err` with the reason when `address` is not public and not allowed.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Refused> {
        let address = canonical(address);
        let Some(kind) = non_public(address) else {
            return Ok(());
        };
        if self
            .networks
            .iter()
            .any(|(network, prefix)| contains(canonical(*network), *prefix, address))
        {
            return Ok(());
        }
        Err(Refused(format!(
            "it leads to a {kind} address, which a team's provider may not reach \
             (the instance's llm.allowed_private_hosts can allow it)"
        )))
    }

    /// Checks a base URL a team typed, before anything is sent: its shape, then every address its
    /// host resolves to now. A name that does not resolve is let through (calls then fail to
    /// connect, and are checked again at each connection).
    pub async fn check_url(&self, url: &str) -> Result<(), Refused> {
        let host = url_host(url)?;
        if let Some(address) = literal_address(&host) {
            return self.check_address(address);
        }
        if self.allows_name(&host) {
            return Ok(());
        }
        let lookup = tokio::net::lookup_host((host.as_str(), 443));
        if let Ok(Ok(addresses)) = tokio::time::timeout(Duration::from_secs(5), lookup).await {
            for address in addresses {
                self.check_address(address.ip())?;
            }
        }
        Ok(())
    }
}

/// The host of a team's base URL, refusing what would let the team choose more than an API root:
/// a query or fragment (they swallow the path the client appends), credentials, other schemes.
pub fn url_host(url: &str) -> Result<String, Refused> {
    let refused = |why: &str| Err(Refused(why.to_owned()));
    if url.contains(['?', '#']) {
        return refused("it may not contain ? or #: give the API's root, such as https://host/v1");
    }
    let Ok(parsed) = reqwest_llm::Url::parse(url) else {
        return refused("it is not an address");
    };
    if !matches!(parsed.scheme(), "http" | "https") {
        return refused("it must be an http(s) address");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return refused("it may not carry a user name or password: give the key as the key");
    }
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(host.to_ascii_lowercase()),
        _ => refused("it has no host"),
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, or NAT64's `64:ff9b::a.b.c.d`) as the IPv4
/// address it reaches.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return IpAddr::V4(Ipv4Addr::new(a, b, c, d));
            }
            IpAddr::V6(v6)
        }
        v4 => v4,
    }
}

/// What kind of non-public address `address` is, if it is one.
fn non_public(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            Some(if v4.is_loopback() {
                "loopback"
            } else if v4.is_private() {
                "private"
            } else if v4.is_link_local() {
                "link-local (cloud metadata)"
            } else if a == 100 && (64..128).contains(&b) {
                "shared (CGNAT)"
            } else if v4.is_multicast() || v4.is_broadcast() || a >= 240 {
                "multicast or reserved"
            } else if a == 0 {
                "unspecified"
            } else if a == 192 && b == 0 && v4.octets()[2] == 0 {
                "reserved"
            } else if v4.is_documentation() || (a == 198 && (18..20).contains(&b)) {
                "documentation or benchmarking"
            } else {
                return None;
            })
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            Some(if v6.is_loopback() {
                "loopback"
            } else if v6.is_unspecified() {
                "unspecified"
            } else if first & 0xfe00 == 0xfc00 {
                "private"
            } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
                "link-local"
            } else if v6.is_multicast() {
                "multicast or reserved"
            } else if first == 0x2001 && v6.segments()[1] == 0x0db8 {
                "documentation or benchmarking"
            } else if first == 0x2002 {
                // 6to4 carries an IPv4 address in its next 32 bits: judged by that.
                let s = v6.segments();
                let [a, b] = s[1].to_be_bytes();
                let [c, d] = s[2].to_be_bytes();
                return non_public(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
            } else if v6.segments()[..6] == [0; 6] {
                // The deprecated IPv4-compatible form, ::a.b.c.d.
                "reserved"
            } else {
                return None;
            })
        }
    }
}

fn contains(network: IpAddr, prefix: u8, address: IpAddr) -> bool {
    match (network, address) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// The resolver of the team transport: resolves as the system does, then refuses the whole name
/// if any address it gave is not allowed (a name with one private address among public ones
/// could be steered to it).
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: std::sync::Arc<AddressPolicy>,
}

impl reqwest_llm::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest_llm::dns::Name) -> reqwest_llm::dns::Resolving {
        let policy = self.policy.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if !policy.allows_name(&name) {
                for address in &addresses {
                    policy.check_address(address.ip())?;
                }
            }
            Ok(Box::new(addresses.into_iter()) as reqwest_llm::dns::Addrs)
        })
    }
}

/// An address written as an IPv6 literal in a URL host (`[::1]`), parsed.
pub(crate) fn literal_address(host: &str) -> Option<IpAddr> {
    host.trim_matches(['[', ']']).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &AddressPolicy, address: &str) -> bool {
        policy.check_address(address.parse().unwrap()).is_err()
    }

    #[test]
    fn every_non_public_range_is_refused_and_public_addresses_pass() {
        let none = AddressPolicy::default();
        for address in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(refused(&none, address), "{address} passed");
        }
        for address in ["93.184.216.34", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(!refused(&none, address), "{address} refused");
        }
    }

    #[test]
    fn the_instance_allows_by_name_address_or_network() {
        let policy =
            AddressPolicy::parse(&["localhost", "127.0.0.1", "10.0.0.0/8", "fd00::/8"]).unwrap();
        assert!(!refused(&policy, "127.0.0.1"));
        assert!(!refused(&policy, "::ffff:127.0.0.1"));
        assert!(refused(&policy, "127.0.0.2"));
        assert!(!refused(&policy, "10.200.0.1"));
        assert!(refused(&policy, "192.168.0.1"));
        assert!(!refused(&policy, "fd00::5"));
        assert!(refused(&policy, "169.254.169.254"));
        assert!(policy.allows_name("LOCALHOST."));
        assert!(!policy.allows_name("localhost.evil.example"));
        assert!(AddressPolicy::parse(&["10.0.0.0/33"]).is_err());
        assert!(AddressPolicy::parse(&["http://x"]).is_err());
    }

    #[test]
    fn a_base_url_may_not_choose_more_than_an_api_root() {
        assert_eq!(
            url_host("https://api.example.com/v1").unwrap(),
            "api.example.com"
        );
        assert_eq!(url_host("http://[::1]:8080/v1").unwrap(), "[::1]");
        for url in [
            "https://api.example.com/v1?x=",
            "https://api.example.com/v1#",
            "https://user:pw@api.example.com/v1",
            "ftp://api.example.com",
            "not a url",
        ] {
            assert!(url_host(url).is_err(), "{url}");
        }
    }

    #[tokio::test]
    async fn a_name_is_judged_by_what_it_resolves_to() {
        let none = AddressPolicy::default();
        assert!(none.check_url("http://localhost:11434/v1").await.is_err());
        assert!(
            none.check_url("http://169.254.169.254/latest")
                .await
                .is_err()
        );
        assert!(none.check_url("http://[::1]/v1").await.is_err());
        let local = AddressPolicy::parse(&["localhost"]).unwrap();
        assert!(local.check_url("http://localhost:11434/v1").await.is_ok());
        // A name that does not resolve is not a refusal: calls to it fail to connect.
        assert!(
            none.check_url("https://unresolvable.invalid/v1")
                .await
                .is_ok()
        );
    }
}
