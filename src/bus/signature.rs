//! Authenticating events on the Redis bus: an HMAC-SHA256 over the channel and the
//! message, so only instances holding the deployment's key can put events in front of sessions.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The label `JWT_SECRET` is keyed with when no `BUS_SECRET` is set, so the bus key
/// differs from the token-signing key while needing no extra configuration.
pub const DERIVATION_LABEL: &[u8] = b"taskwire bus event key v1";

/// The version tag every signed message starts with.
const VERSION: &str = "v1";

/// The key every instance of a deployment signs and verifies bus messages with.
#[derive(Clone)]
pub struct BusKey(Vec<u8>);

impl std::fmt::Debug for BusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusKey(..)")
    }
}

impl BusKey {
    /// `BUS_SECRET` as is, or HMAC-SHA256(`JWT_SECRET`, `DERIVATION_LABEL`).
    pub fn new(bus_secret: Option<&[u8]>, jwt_secret: &[u8]) -> BusKey {
        match bus_secret {
            Some(secret) => BusKey(secret.to_vec()),
            None => BusKey(mac(jwt_secret, &[DERIVATION_LABEL]).to_vec()),
        }
    }

    /// `v1.<hex HMAC of channel, NUL, body>.<body>`: the channel is covered so a
    /// message cannot be replayed into another deployment sharing the key and the Redis.
    pub fn sign(&self, channel: &str, body: &str) -> String {
        let tag = mac(&self.0, &[channel.as_bytes(), b"\0", body.as_bytes()]);
        format!("{VERSION}.{}.{body}", hex(&tag))
    }

    /// The body of a message signed with this key for this channel; `None` for anything else.
    pub fn verify<'a>(&self, channel: &str, message: &'a [u8]) -> Option<&'a [u8]> {
        let rest = message.strip_prefix(VERSION.as_bytes())?.strip_prefix(b".")?;
        let (tag, body) = (rest.get(..64)?, rest.get(64..)?.strip_prefix(b".")?);
        let tag = unhex(tag)?;
        let mut check = HmacSha256::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        for part in [channel.as_bytes(), b"\0", body] {
            check.update(part);
        }
        check.verify_slice(&tag).ok()?;
        Some(body)
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(*pair.get(1)?)?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let tag = mac(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_signed_message_verifies_and_any_change_does_not() {
        let key = BusKey::new(None, b"0123456789abcdef0123456789abcdef");
        let signed = key.sign("taskwire:events", r#"{"id":1}"#);
        assert_eq!(key.verify("taskwire:events", signed.as_bytes()), Some(&br#"{"id":1}"#[..]));
        assert_eq!(key.verify("other:events", signed.as_bytes()), None, "another channel");
        let tampered = signed.replace(r#""id":1"#, r#""id":2"#);
        assert_eq!(key.verify("taskwire:events", tampered.as_bytes()), None, "a changed body");
        let other_key = BusKey::new(Some(b"another-secret-another-secret-0123"), b"0123456789abcdef0123456789abcdef");
        assert_eq!(other_key.verify("taskwire:events", signed.as_bytes()), None, "another key");
        for garbage in [&b""[..], b"v1.", b"v1.zz", br#"{"id":1}"#, "v1.é".as_bytes()] {
            assert_eq!(key.verify("taskwire:events", garbage), None);
        }
    }

    #[test]
    fn the_derived_key_is_not_the_jwt_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        assert_ne!(BusKey::new(None, secret).0, secret.to_vec());
        assert_eq!(BusKey::new(None, secret).0, mac(secret, &[DERIVATION_LABEL]).to_vec());
    }
}
