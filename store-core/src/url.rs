//! Store URLs as people may see them: with every credential masked.
//!
//! A store URL can carry credentials: a query option such as `secret_access_key=…`, a session
//! `token=…`, any option whose name says `secret`, `token`, `password` (see
//! [`is_secret_option`]), or user information (`s3://user:pass@bucket`, also inside an option's
//! value such as `endpoint=http://user:pass@host`). [`redact`] is the one function that turns such
//! a URL into one that can be shown; everything that shows a store URL (this crate's errors and
//! their `Debug`, the backends' errors and names, the `objstore` command's output, hints and logs)
//! goes through it.
//!
//! Invariants: `redact` never fails and never panics, whatever the input (it need not be a URL);
//! what it returns contains no option value whose name is secret and no password of user
//! information; the rest (scheme, location, other options and their order) is left as written,
//! so the redacted URL still says which store it is. `redact(redact(u)) == redact(u)`.
//!
//! ```
//! use store_core::url::redact;
//! assert_eq!(
//!     redact("s3://b/p?endpoint=http://127.0.0.1:9000&access_key_id=AKID&secret_access_key=S3CR3T"),
//!     "s3://b/p?endpoint=http://127.0.0.1:9000&access_key_id=AKID&secret_access_key=***"
//! );
//! assert_eq!(redact("s3://user:pass@bucket/prefix"), "s3://user:***@bucket/prefix");
//! ```

use std::borrow::Cow;

/// What a masked credential is replaced with.
pub const MASK: &str = "***";

/// Words that make an option a credential when its name contains one (compared ignoring case).
/// `access_key_id` is not among them: an access key's id names the key, it does not grant access
/// (AWS prints it in its own logs), and showing it helps to tell which credentials were used.
const SECRET_WORDS: [&str; 8] =
    ["secret", "token", "password", "passwd", "credential", "signature", "private_key", "authorization"];

/// Credentials shorter than this are not searched for in free text by [`scrub`] (masking every
/// `b` of a message would make it unreadable, and such a value protects nothing anyway).
const SHORTEST_SCRUBBED: usize = 4;

/// True when an option of this name holds a credential: its name contains `secret`, `token`,
/// `password`, `passwd`, `credential`, `signature`, `private_key` or `authorization`, in any case
/// (`secret_access_key`, `aws_session_token`, `token`, `db_Password`).
pub fn is_secret_option(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// `url` with every credential replaced by [`MASK`]: values of secret options (see
/// [`is_secret_option`]; names are compared after percent-decoding), and the password of user
/// information in the URL itself or in an option's value.
pub fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base).into_owned();
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The value of option `name` as it may be shown: [`MASK`] for a secret option, else the value
/// with any user information's password masked.
pub fn redact_option<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if is_secret_option(name) {
        return Cow::Borrowed(MASK);
    }
    match redact_userinfo(value) {
        Cow::Borrowed(_) => Cow::Borrowed(value),
        Cow::Owned(masked) => Cow::Owned(masked),
    }
}

/// The credentials `url` holds, as written after percent-decoding: values of secret options and
/// passwords of user information. For [`scrub`]bing them out of text a library wrote.
pub fn secrets_in(url: &str) -> Vec<String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut found: Vec<String> = password_of(base).into_iter().collect();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        found.extend(secret_of_option(&decode(name), &decode(value)));
    }
    found.retain(|s| !s.is_empty());
    found
}

/// The credential option `name` holds with `value`: the value itself when the option is secret,
/// the password of user information in it, or nothing.
pub fn secret_of_option(name: &str, value: &str) -> Option<String> {
    if is_secret_option(name) { Some(value.to_string()) } else { password_of(value) }.filter(|s| !s.is_empty())
}

/// `text` with every occurrence of each of `secrets` (those of at least 4 bytes) replaced by
/// [`MASK`]: for messages of other libraries, which may quote a credential they were given.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= SHORTEST_SCRUBBED) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// One `name=value` pair of a query, its value masked when it is a credential.
fn redact_pair(pair: &str) -> String {
    let Some((name, value)) = pair.split_once('=') else { return pair.to_string() };
    if is_secret_option(&decode(name)) {
        return format!("{name}={MASK}");
    }
    if let Cow::Owned(masked) = redact_userinfo(value) {
        return format!("{name}={masked}");
    }
    // A URL percent-encoded into the value (`endpoint=http%3A%2F%2Fu%3Ap%40h`).
    let decoded = decode(value);
    match redact_userinfo(&decoded) {
        Cow::Owned(masked) => format!("{name}={masked}"),
        Cow::Borrowed(_) => pair.to_string(),
    }
}

/// `scheme://user:pass@host/...` with the password masked (`user:***@`), or the whole user
/// information when it has no `:` (a bare token). Anything else is returned as it is.
fn redact_userinfo(text: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = text.split_once("://") else { return Cow::Borrowed(text) };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return Cow::Borrowed(text) };
    let userinfo = &rest[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{MASK}"),
        None => MASK.to_string(),
    };
    Cow::Owned(format!("{scheme}://{shown}{}", &rest[at..]))
}

/// The password (or bare token) of the user information in `text`, when it has one.
fn password_of(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    let userinfo = &rest[..at];
    let secret = userinfo.split_once(':').map_or(userinfo, |(_, password)| password);
    Some(decode(secret).into_owned())
}

fn decode(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_keeps_what_helps_and_masks_what_is_secret() {
        assert_eq!(redact("file:///data/store"), "file:///data/store");
        assert_eq!(redact("file:///data/a@b/store"), "file:///data/a@b/store");
        assert_eq!(
            redact("s3://b/p?endpoint=http://127.0.0.1:9000&access_key_id=AKID&secret_access_key=S3CR3T&region=x"),
            "s3://b/p?endpoint=http://127.0.0.1:9000&access_key_id=AKID&secret_access_key=***&region=x"
        );
        assert_eq!(redact("s3://user:pass@b/p"), "s3://user:***@b/p");
        assert_eq!(redact("s3://TOKEN@b/p"), "s3://***@b/p");
        assert_eq!(
            redact("s3://b?token=t&AWS_SESSION_TOKEN=t&x_Password=p&my%5Fsecret=s"),
            "s3://b?token=***&AWS_SESSION_TOKEN=***&x_Password=***&my%5Fsecret=***"
        );
        assert_eq!(redact("s3://b?endpoint=http://u:p@h:1"), "s3://b?endpoint=http://u:***@h:1");
        assert_eq!(redact("s3://b?endpoint=http%3A%2F%2Fu%3Ap%40h"), "s3://b?endpoint=http://u:***@h");
        assert_eq!(redact("s3://b?skip_signature&&x="), "s3://b?skip_signature&&x=");
        assert_eq!(redact("not a url?password=x"), "not a url?password=***");
        assert_eq!(redact(""), "");
        let once = redact("s3://u:p@b?secret=1&endpoint=http://a:b@c");
        assert_eq!(redact(&once), once);
        assert!(is_secret_option("secret_access_key") && is_secret_option("Token"));
        assert!(!is_secret_option("access_key_id") && !is_secret_option("endpoint"));
    }

    #[test]
    fn secrets_are_found_and_scrubbed_from_text() {
        let url = "s3://u:USERPASS@b?secret_access_key=SECRET1&endpoint=http://x:EPPASS@h&token=t%2Fk";
        let secrets = secrets_in(url);
        assert_eq!(secrets, ["USERPASS", "SECRET1", "EPPASS", "t/k"]);
        assert_eq!(scrub("a SECRET1 b USERPASS c t/k", &secrets), "a *** b *** c t/k");
        assert_eq!(redact_option("secret_access_key", "x"), "***");
        assert_eq!(redact_option("endpoint", "http://a:b@h"), "http://a:***@h");
        assert_eq!(redact_option("region", "eu"), "eu");
    }
}
