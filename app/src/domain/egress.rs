//! Where the server may send requests on people's behalf (webhooks): never to its own machine,
//! the private network or a cloud metadata service unless an operator allows that receiver.
//! Without this, anyone who may add a webhook could use the server to reach internal services
//! (and read their answers' status codes in the delivery log).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why `ip` is not a public internet address, or `None` when it is.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_v4(v4);
            }
            let seg = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg[0] == 0x64 && seg[1] == 0xff9b {
                // NAT64 embeds an IPv4 address in the last 32 bits
                blocked_v4(Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                ))
            } else {
                None
            }
        }
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some("a cloud metadata address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_private() {
        Some("a private address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else {
        None
    }
}

/// Receivers an operator allows although they are internal: networks (`10.1.0.0/16`,
/// `127.0.0.1`, `fd00::/8`) and host names (`hooks.internal`, matched exactly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    nets: Vec<(IpAddr, u8)>,
    hosts: Vec<String>,
}

impl AllowList {
    /// Comma-separated entries; the error names the entry.
    pub fn parse(s: &str) -> Result<AllowList, String> {
        let mut out = AllowList::default();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry, None),
            };
            if let Ok(ip) = addr.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits =
                    match bits {
                        None => max,
                        Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| {
                            format!("webhook allow-list: '{entry}' has a bad prefix length")
                        })?,
                    };
                out.nets.push((ip, bits));
            } else if bits.is_none()
                && !entry.is_empty()
                && entry.len() <= 253
                && entry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                out.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!(
                    "webhook allow-list: '{entry}' is neither an address, a network nor a host name"
                ));
            }
        }
        Ok(out)
    }

    pub fn allows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|(net, bits)| in_net(ip, *net, *bits))
    }

    /// `None` when a request may go to `ip` (reached through `host`); else why not.
    pub fn refusal(&self, host: &str, ip: IpAddr) -> Option<&'static str> {
        if self.allows_host(host) || self.allows_ip(ip) {
            return None;
        }
        blocked_reason(ip)
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits as u32) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits as u32) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// The host of an `http(s)://` address (brackets removed from IPv6 literals) and its port.
pub fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let default = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
    let authority = rest.split(['/', '?', '#']).next()?;
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused_public_ones_pass() {
        for (addr, why) in [
            ("127.0.0.1", "a loopback address"),
            ("127.9.9.9", "a loopback address"),
            ("10.0.0.1", "a private address"),
            ("172.16.5.4", "a private address"),
            ("192.168.1.1", "a private address"),
            ("169.254.169.254", "a cloud metadata address"),
            ("169.254.1.1", "a link-local address"),
            ("100.64.0.1", "a shared (carrier-grade NAT) address"),
            ("0.0.0.0", "the unspecified address"),
            ("255.255.255.255", "a broadcast, multicast or reserved address"),
            ("::1", "a loopback address"),
            ("::", "the unspecified address"),
            ("::ffff:127.0.0.1", "a loopback address"),
            ("::ffff:10.1.2.3", "a private address"),
            ("64:ff9b::a9fe:a9fe", "a cloud metadata address"),
            ("fe80::1", "a link-local address"),
            ("fd12::1", "a private (unique local) address"),
            ("fd00:ec2::254", "a cloud metadata address"),
        ] {
            assert_eq!(blocked_reason(ip(addr)), Some(why), "{addr}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(blocked_reason(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn the_allow_list_opens_named_networks_and_hosts_only() {
        let a = AllowList::parse("10.1.0.0/16, 127.0.0.1 ,hooks.internal,fd00::/8").unwrap();
        assert_eq!(a.refusal("x", ip("10.1.200.3")), None);
        assert_eq!(a.refusal("x", ip("10.2.0.1")), Some("a private address"));
        assert_eq!(a.refusal("x", ip("127.0.0.1")), None);
        assert_eq!(a.refusal("x", ip("127.0.0.2")), Some("a loopback address"));
        assert_eq!(a.refusal("Hooks.Internal", ip("192.168.0.9")), None);
        assert_eq!(a.refusal("x", ip("fd99::1")), None);
        assert_eq!(a.refusal("x", ip("8.8.8.8")), None, "public addresses need no entry");
        assert_eq!(AllowList::parse("").unwrap(), AllowList::default());
        for bad in ["10.0.0.0/33", "fd00::/129", "a b", "10.0.0.0/x", "host/8"] {
            assert!(AllowList::parse(bad).unwrap_err().contains(bad.trim()), "{bad}");
        }
    }

    #[test]
    fn hosts_and_ports_come_out_of_addresses() {
        assert_eq!(
            host_and_port("https://Hooks.Slack.com/services/x"),
            Some(("hooks.slack.com".into(), 443))
        );
        assert_eq!(host_and_port("http://127.0.0.1:9000/x"), Some(("127.0.0.1".into(), 9000)));
        assert_eq!(host_and_port("http://[::1]:8080"), Some(("::1".into(), 8080)));
        assert_eq!(host_and_port("http://[fe80::1]/"), Some(("fe80::1".into(), 80)));
        assert_eq!(host_and_port("http://x:notaport/"), None);
        assert_eq!(host_and_port("http:///"), None);
    }
}
