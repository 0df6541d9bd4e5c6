//! Who a request really comes from, and the host and scheme it was sent to: the forwarding
//! headers (`Forwarded`, `X-Forwarded-For`, `-Host`, `-Proto`) are believed only when the
//! connection comes from a configured trusted proxy, since any client can send them, and then
//! only the one family the operator's proxy sets: a proxy passes the other through unchanged.

use std::fmt;
use std::net::IpAddr;

/// A block of addresses: `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr = addr.parse::<IpAddr>().map(canonical).map_err(|_| {
            format!(
                "\"{text}\" is not an IP address or address block (examples: 10.0.0.1, \
                 10.0.0.0/8, fd00::/8)"
            )
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(bits) => bits
                .parse::<u8>()
                .ok()
                .filter(|bits| *bits <= max)
                .ok_or_else(|| {
                    format!("\"{text}\": the prefix length must be a number from 0 to {max}")
                })?,
        };
        Ok(Cidr {
            network: mask(addr, prefix),
            prefix,
        })
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix) == self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed. Empty: nobody's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A list separated by commas or spaces: `127.0.0.1, 10.0.0.0/8 fd00::/8`.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        Self::from_items(text.split([',', ' ', '\t', '\n']).filter(|s| !s.is_empty()))
    }

    pub fn from_items<'a>(
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<TrustedProxies, String> {
        items
            .into_iter()
            .map(Cidr::parse)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(addr))
    }
}

/// An IPv4 address inside IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// The first `prefix` bits of `addr`, the rest zero.
pub fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// Which forwarding headers the trusted proxies set, and so the only ones believed. A proxy
/// appends to (or overwrites) its own header and passes any other through as the client sent
/// it: nginx's `proxy_add_x_forwarded_for` leaves a client's `Forwarded` alone, so reading
/// both (or preferring `Forwarded`) would let a client name its own address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`, with `X-Forwarded-Host` and `X-Forwarded-Proto` (nginx, HAProxy,
    /// Traefik, Caddy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…;host=…;proto=…`.
    Forwarded,
}

/// What the forwarding headers of one request say, as `name → values` in the order received.
pub trait Headers {
    fn values(&self, name: &str) -> Vec<&str>;
}

/// Where a request comes from and what it was addressed to, as far as can be believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client: the peer, or behind trusted proxies the right-most untrusted address.
    pub client: IpAddr,
    /// `http` or `https` as a trusted proxy reported it.
    pub forwarded_proto: Option<String>,
    /// `host[:port]` as a trusted proxy reported it.
    pub forwarded_host: Option<String>,
}

/// One hop of a forwarding chain.
#[derive(Debug, Default)]
struct Hop {
    /// `None`: a hop that did not name a usable address (`unknown`, an obfuscated name).
    node: Option<IpAddr>,
    host: Option<String>,
    proto: Option<String>,
}

/// Judges a request from `peer`. Headers from an untrusted peer are ignored entirely. From a
/// trusted one, only `believed` is read (the other family is whatever the client wrote), its
/// chain walked from the right: every trusted hop is skipped and the first untrusted address is
/// the client (the left-most entries could be anything a client wrote). Host and scheme come
/// from the right-most hop of the same header family, the one the trusted proxy itself added.
pub fn origin(
    peer: IpAddr,
    trusted: &TrustedProxies,
    believed: ForwardedHeader,
    headers: &impl Headers,
) -> Origin {
    let peer = canonical(peer);
    let mut origin = Origin {
        client: peer,
        forwarded_proto: None,
        forwarded_host: None,
    };
    if !trusted.contains(peer) {
        return origin;
    }
    let hops = match believed {
        ForwardedHeader::XForwardedFor => x_forwarded_hops(headers),
        ForwardedHeader::Forwarded => forwarded_hops(&headers.values("forwarded")),
    };
    if let Some(last) = hops.last() {
        origin.forwarded_host = last.host.clone();
        origin.forwarded_proto = last.proto.clone();
    }
    for hop in hops.iter().rev() {
        match hop.node {
            Some(addr) => {
                origin.client = addr;
                if !trusted.contains(addr) {
                    break;
                }
            }
            // Nothing usable further left: the last trusted hop stands for the client.
            None => break,
        }
    }
    origin
}

/// RFC 7239: `Forwarded: for=192.0.2.60;proto=https;host=a.example, for="[2001:db8::1]:4711"`.
fn forwarded_hops(values: &[&str]) -> Vec<Hop> {
    let mut hops = Vec::new();
    for element in values.iter().flat_map(|v| v.split(',')) {
        let mut hop = Hop::default();
        for pair in element.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key.trim().to_ascii_lowercase().as_str() {
                "for" => hop.node = node(value),
                "host" => hop.host = valid_host(value),
                "proto" => hop.proto = proto(value),
                _ => {}
            }
        }
        hops.push(hop);
    }
    hops
}

/// `X-Forwarded-For: client, proxy1` with `X-Forwarded-Host` and `-Proto` of the last hop.
fn x_forwarded_hops(headers: &impl Headers) -> Vec<Hop> {
    let mut hops: Vec<Hop> = headers
        .values("x-forwarded-for")
        .iter()
        .flat_map(|v| v.split(','))
        .map(|entry| Hop {
            node: node(entry.trim()),
            ..Hop::default()
        })
        .collect();
    let last_of = |name| {
        headers
            .values(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .next_back()
            .map(str::to_owned)
    };
    let (host_value, proto_value) = (last_of("x-forwarded-host"), last_of("x-forwarded-proto"));
    if host_value.is_some() || proto_value.is_some() {
        if hops.is_empty() {
            hops.push(Hop::default());
        }
        let last = hops.last_mut().expect("one hop at least");
        last.host = host_value.as_deref().and_then(valid_host);
        last.proto = proto_value.as_deref().and_then(proto);
    }
    hops
}

/// An address as a chain names it: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`, `2001:db8::1`.
fn node(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    let (addr, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// A host as it may stand in an absolute URL: a name or address with an optional port, nothing
/// that could end the authority (`/`, `@`, `?`, `#`, spaces).
pub fn valid_host(text: &str) -> Option<String> {
    let ok = !text.is_empty()
        && text.len() <= 255
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    ok.then(|| text.to_ascii_lowercase())
}

fn proto(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    matches!(lower.as_str(), "http" | "https").then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Map(Vec<(&'static str, &'static str)>);

    impl Headers for Map {
        fn values(&self, name: &str) -> Vec<&str> {
            self.0
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
                .collect()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_blocks() {
        let block = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(block.contains(ip("10.1.200.3")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(block.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped IPv6");
        assert_eq!(
            Cidr::parse("10.1.2.3/16").unwrap().to_string(),
            "10.1.0.0/16"
        );
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12:3456::1")) && !v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.0.0",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "host.lan",
            "1.2.3.4/-1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        let list = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8 ::1").unwrap();
        assert!(list.contains(ip("10.9.9.9")) && list.contains(ip("::1")));
        assert!(TrustedProxies::parse("127.0.0.1,nope").is_err());
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }

    #[test]
    fn masks_to_a_prefix() {
        assert_eq!(mask(ip("2001:db8:1:2:3:4:5:6"), 64), ip("2001:db8:1:2::"));
        assert_eq!(mask(ip("192.168.1.77"), 24), ip("192.168.1.0"));
        assert_eq!(mask(ip("192.168.1.77"), 0), ip("0.0.0.0"));
        assert_eq!(mask(ip("192.168.1.77"), 32), ip("192.168.1.77"));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let headers = Map(vec![
            ("X-Forwarded-For", "1.1.1.1"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=2.2.2.2;host=evil.example;proto=https"),
        ]);
        for believed in [ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded] {
            let origin = origin(
                ip("10.0.0.5"),
                &TrustedProxies::default(),
                believed,
                &headers,
            );
            assert_eq!(origin.client, ip("10.0.0.5"));
            assert_eq!(origin.forwarded_host, None);
            assert_eq!(origin.forwarded_proto, None);
        }
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_address() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client wrote 6.6.6.6 itself; the proxies appended the real address and their own.
        let headers = Map(vec![
            ("X-Forwarded-For", "6.6.6.6, 203.0.113.7"),
            ("X-Forwarded-For", "10.0.0.2"),
            ("X-Forwarded-Host", "spoofed.example, pypi.example.lan"),
            ("X-Forwarded-Proto", "https"),
        ]);
        let origin = origin(ip("10.0.0.1"), &trusted, XFF, &headers);
        assert_eq!(origin.client, ip("203.0.113.7"));
        assert_eq!(origin.forwarded_host.as_deref(), Some("pypi.example.lan"));
        assert_eq!(origin.forwarded_proto.as_deref(), Some("https"));
        // Only trusted hops: the left-most one stands for the client.
        let inner = Map(vec![("X-Forwarded-For", "10.0.0.9")]);
        assert_eq!(origin_of(&trusted, &inner), ip("10.0.0.9"));
        // Garbage in the chain stops the walk at the last trusted hop.
        let junk = Map(vec![("X-Forwarded-For", "203.0.113.7, unknown")]);
        assert_eq!(origin_of(&trusted, &junk), ip("10.0.0.1"));
    }

    fn origin_of(trusted: &TrustedProxies, headers: &Map) -> IpAddr {
        origin(ip("10.0.0.1"), trusted, XFF, headers).client
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;
    const RFC: ForwardedHeader = ForwardedHeader::Forwarded;

    #[test]
    fn only_the_configured_header_family_is_believed() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        // What nginx sends on: the client's own Forwarded untouched, its address appended to
        // X-Forwarded-For, and the host and scheme it was reached at.
        let headers = Map(vec![
            ("Forwarded", "for=1.2.3.4;host=evil.example;proto=http"),
            ("X-Forwarded-For", "5.6.7.8, 203.0.113.9"),
            ("X-Forwarded-Host", "pypi.lan"),
            ("X-Forwarded-Proto", "https"),
        ]);
        let seen = origin(ip("127.0.0.1"), &trusted, XFF, &headers);
        assert_eq!(seen.client, ip("203.0.113.9"));
        assert_eq!(seen.forwarded_host.as_deref(), Some("pypi.lan"));
        assert_eq!(seen.forwarded_proto.as_deref(), Some("https"));
        // A proxy that sets Forwarded: the client's X-Forwarded-* are nothing but text.
        let headers = Map(vec![
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Forwarded-Host", "evil.example"),
            ("X-Forwarded-Proto", "http"),
            (
                "Forwarded",
                "for=5.6.7.8, for=203.0.113.9;host=pypi.lan;proto=https",
            ),
        ]);
        let seen = origin(ip("127.0.0.1"), &trusted, RFC, &headers);
        assert_eq!(seen.client, ip("203.0.113.9"));
        assert_eq!(seen.forwarded_host.as_deref(), Some("pypi.lan"));
        assert_eq!(seen.forwarded_proto.as_deref(), Some("https"));
        // The believed header absent: the proxy itself is the client, nothing is forwarded.
        let only_other = Map(vec![("Forwarded", "for=1.2.3.4;host=evil.example")]);
        let seen = origin(ip("127.0.0.1"), &trusted, XFF, &only_other);
        assert_eq!(seen.client, ip("127.0.0.1"));
        assert_eq!(seen.forwarded_host, None);
        let only_other = Map(vec![("X-Forwarded-For", "1.2.3.4")]);
        assert_eq!(
            origin(ip("127.0.0.1"), &trusted, RFC, &only_other).client,
            ip("127.0.0.1")
        );
    }

    #[test]
    fn reads_rfc_7239_forwarded_when_told_to() {
        let trusted = TrustedProxies::parse("127.0.0.1").unwrap();
        let headers = Map(vec![
            (
                "Forwarded",
                "for=\"[2001:db8:cafe::17]:4711\";proto=https;host=pypi.lan:8443",
            ),
            ("X-Forwarded-For", "9.9.9.9"),
        ]);
        let origin = origin(ip("127.0.0.1"), &trusted, RFC, &headers);
        assert_eq!(origin.client, ip("2001:db8:cafe::17"));
        assert_eq!(origin.forwarded_host.as_deref(), Some("pypi.lan:8443"));
        assert_eq!(origin.forwarded_proto.as_deref(), Some("https"));
        let hostile = Map(vec![(
            "Forwarded",
            "for=192.0.2.1:99;host=\"a.example/evil\";proto=javascript",
        )]);
        let origin = super::origin(ip("127.0.0.1"), &trusted, RFC, &hostile);
        assert_eq!(origin.client, ip("192.0.2.1"));
        assert_eq!(
            origin.forwarded_host, None,
            "a host that would end the authority"
        );
        assert_eq!(origin.forwarded_proto, None);
    }
}
