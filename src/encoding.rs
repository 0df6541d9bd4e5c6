//! Content codings for pages (RFC 9110 §8.4): which one an `Accept-Encoding` header asks
//! for, and compressing a body into each. pip sends `gzip, deflate`, uv `gzip, deflate, zstd`.

use std::io::Write;

use actix_web::web::Bytes;

/// A coding a page can be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Identity,
    Gzip,
    Zstd,
}

/// The compressed codings, in the server's order of preference on a tie of q-values: zstd is
/// as small as gzip on these pages and decodes faster.
pub const COMPRESSED: [Coding; 2] = [Coding::Zstd, Coding::Gzip];

/// Bodies smaller than this are sent as they are: a packet or two either way, and a coding's
/// own header and checksum would eat most of the saving.
pub const MIN_COMPRESS: usize = 1024;

/// gzip's usual level: within a few percent of its best on these pages, at a fraction of the time.
const GZIP_LEVEL: u32 = 6;
/// zstd's level: as small as gzip -9 on these pages in about a millisecond per 100 KB.
const ZSTD_LEVEL: i32 = 10;

impl Coding {
    /// The name in `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Zstd => "zstd",
        }
    }

    /// What tells this coding's entity tag from the identity's (each coding is its own
    /// representation, so it needs its own tag: RFC 9110 §8.8.3).
    pub fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gz",
            Coding::Zstd => "-zst",
        }
    }

    /// `body` in this coding, or `None` where that would not be smaller. CPU work (a few
    /// milliseconds for a large page): run it on the blocking pool.
    pub fn compress(self, body: &[u8]) -> Option<Bytes> {
        let encoded = match self {
            Coding::Identity => return None,
            Coding::Gzip => {
                let level = flate2::Compression::new(GZIP_LEVEL);
                let out = Vec::with_capacity(body.len() / 3);
                let mut encoder = flate2::write::GzEncoder::new(out, level);
                encoder.write_all(body).ok()?;
                encoder.finish().ok()?
            }
            Coding::Zstd => zstd::bulk::compress(body, ZSTD_LEVEL).ok()?,
        };
        (encoded.len() < body.len()).then(|| Bytes::from(encoded))
    }
}

/// Picks the coding to send, among the compressed ones for which `offered` holds, from an
/// `Accept-Encoding` header (RFC 9110 §12.5.3). No header, nothing acceptable, or a header
/// that cannot be read: identity, which every client can take (never a 406 for a page).
pub fn negotiate(accept_encoding: Option<&str>, offered: impl Fn(Coding) -> bool) -> Coding {
    let Some(header) = accept_encoding else {
        return Coding::Identity;
    };
    let weights = Weights::parse(header);
    let mut best = (Coding::Identity, weights.of(Coding::Identity));
    for coding in COMPRESSED {
        let q = weights.of(coding);
        // A compressed coding wins a tie with identity (`gzip, identity` wants gzip); between
        // compressed ones the earlier in COMPRESSED does.
        let beats = if best.0 == Coding::Identity {
            q >= best.1
        } else {
            q > best.1
        };
        if q > 0 && beats && offered(coding) {
            best = (coding, q);
        }
    }
    best.0
}

/// The q-values (in thousandths) an `Accept-Encoding` header gives each coding we know.
#[derive(Debug, Default)]
struct Weights {
    identity: Option<u16>,
    gzip: Option<u16>,
    zstd: Option<u16>,
    any: Option<u16>,
}

impl Weights {
    fn parse(header: &str) -> Weights {
        let mut weights = Weights::default();
        for element in header.split(',') {
            let mut parts = element.split(';');
            let name = parts.next().unwrap_or("").trim();
            let mut q = Some(1000);
            for parameter in parts {
                let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
                if key.trim().eq_ignore_ascii_case("q") {
                    q = parse_q(value.trim());
                }
            }
            // An element with a malformed weight is left out, not guessed at.
            let Some(q) = q else { continue };
            let slot = if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                &mut weights.gzip
            } else if name.eq_ignore_ascii_case("zstd") {
                &mut weights.zstd
            } else if name.eq_ignore_ascii_case("identity") {
                &mut weights.identity
            } else if name == "*" {
                &mut weights.any
            } else {
                continue;
            };
            // Named twice: the higher weight counts.
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        weights
    }

    /// A coding's weight: its own element, else `*`'s; identity is acceptable unless excluded.
    fn of(&self, coding: Coding) -> u16 {
        let own = match coding {
            Coding::Identity => self.identity,
            Coding::Gzip => self.gzip,
            Coding::Zstd => self.zstd,
        };
        let default = if coding == Coding::Identity { 1 } else { 0 };
        own.or(self.any).unwrap_or(default)
    }
}

/// A weight as RFC 9110 §12.4.2 writes it (`0`, `0.5`, `1.000`), in thousandths.
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(header: &str) -> Coding {
        negotiate(Some(header), |_| true)
    }

    #[test]
    fn what_the_clients_send() {
        assert_eq!(pick("gzip, deflate"), Coding::Gzip, "pip, requests");
        assert_eq!(pick("gzip, deflate, zstd"), Coding::Zstd, "uv");
        assert_eq!(pick("gzip, deflate, br, zstd"), Coding::Zstd, "browsers");
        assert_eq!(negotiate(None, |_| true), Coding::Identity);
        assert_eq!(pick(""), Coding::Identity);
        assert_eq!(pick("identity"), Coding::Identity);
        assert_eq!(pick("deflate, br"), Coding::Identity);
    }

    #[test]
    fn q_values_order_the_choice() {
        assert_eq!(pick("zstd;q=0.5, gzip"), Coding::Gzip);
        assert_eq!(pick("zstd;q=0.5, gzip;q=0.4"), Coding::Zstd);
        assert_eq!(pick("gzip;q=0.5, identity"), Coding::Identity);
        assert_eq!(
            pick("gzip, identity"),
            Coding::Gzip,
            "a tie goes to the smaller"
        );
        assert_eq!(pick("gzip;q=0"), Coding::Identity);
        assert_eq!(pick("GZIP ; Q=1.000"), Coding::Gzip, "case-insensitive");
        assert_eq!(pick("x-gzip"), Coding::Gzip);
        assert_eq!(
            pick("gzip;q=0, gzip;q=0.3"),
            Coding::Gzip,
            "the higher counts"
        );
    }

    #[test]
    fn the_wildcard_and_identity() {
        assert_eq!(pick("*"), Coding::Zstd);
        assert_eq!(pick("*;q=0.5, zstd;q=0"), Coding::Gzip);
        assert_eq!(pick("*;q=0.5, zstd;q=0, gzip;q=0.2"), Coding::Identity);
        assert_eq!(pick("*;q=0.5, zstd;q=0, identity;q=0.1"), Coding::Gzip);
        assert_eq!(
            pick("identity;q=0, *;q=0"),
            Coding::Identity,
            "nothing left: identity"
        );
        assert_eq!(pick("identity;q=0"), Coding::Identity);
    }

    #[test]
    fn only_what_is_offered() {
        let gzip_only = |c| c == Coding::Gzip;
        assert_eq!(negotiate(Some("zstd, gzip"), gzip_only), Coding::Gzip);
        assert_eq!(negotiate(Some("zstd"), gzip_only), Coding::Identity);
        assert_eq!(negotiate(Some("zstd, gzip"), |_| false), Coding::Identity);
    }

    #[test]
    fn malformed_weights_are_left_out() {
        for header in [
            "gzip;q=2",
            "gzip;q=1.5",
            "gzip;q=0.1234",
            "gzip;q=",
            "gzip;q=abc",
            "gzip;q=-1",
            "gzip;q=.5",
        ] {
            assert_eq!(pick(header), Coding::Identity, "{header}");
        }
        assert_eq!(pick("gzip;q=bad, zstd"), Coding::Zstd);
        assert_eq!(pick(",,;, gzip ,"), Coding::Gzip);
        assert_eq!(parse_q("0.25"), Some(250));
        assert_eq!(parse_q("1."), Some(1000));
        assert_eq!(parse_q("0"), Some(0));
    }

    #[test]
    fn compressed_bodies_decode_to_the_original() {
        let body = "<a href=\"x\">pkg-1.0-py3-none-any.whl</a>\n".repeat(100);
        let gz = Coding::Gzip.compress(body.as_bytes()).unwrap();
        let mut decoded = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        let zst = Coding::Zstd.compress(body.as_bytes()).unwrap();
        assert_eq!(
            zstd::bulk::decompress(&zst, body.len()).unwrap(),
            body.as_bytes()
        );
        assert!(gz.len() < body.len() / 4 && zst.len() < body.len() / 4);
        assert!(
            Coding::Gzip.compress(b"x").is_none(),
            "not smaller: not kept"
        );
    }
}
