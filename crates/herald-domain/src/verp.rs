//! VERP (variable envelope return path): the SMTP MAIL FROM of each message
//! names the message, `bounces+<message id>@example.com`, so a bounce that
//! comes back to that address is matched to its message whatever the
//! remote server did to the content.

/// `local+<message_id>@domain` for the configuration's `bounceAddress`
/// `local@domain`. An address without `@` is returned unchanged (it was
/// validated at creation, so this does not happen in practice).
pub fn verp_address(bounce_address: &str, message_id: &str) -> String {
    match bounce_address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{message_id}@{domain}"),
        None => bounce_address.to_owned(),
    }
}

/// The message id a VERP address carries: the last `+` tag of the local
/// part, when it has the shape of a Herald message id (a UUID). Angle
/// brackets around the address are ignored.
pub fn parse_verp(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = address.rsplit_once('@')?;
    let (_, tag) = local.rsplit_once('+')?;
    // Some servers upper-case local parts; ids are stored lower-case.
    let tag = tag.to_ascii_lowercase();
    is_message_id(&tag).then_some(tag)
}

/// The shape of [`crate::ids::new_id`]: 8-4-4-4-12 hex digits.
pub fn is_message_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01936f4e-8a2b-7c3d-9e4f-0123456789ab";

    #[test]
    fn round_trip() {
        let a = verp_address("bounces@mail.example.com", ID);
        assert_eq!(a, format!("bounces+{ID}@mail.example.com"));
        assert_eq!(parse_verp(&a).as_deref(), Some(ID));
        assert_eq!(parse_verp(&format!("<{a}>")).as_deref(), Some(ID));
        assert_eq!(
            parse_verp(&a.to_ascii_uppercase()).as_deref(),
            Some(ID),
            "an upper-cased local part still names the message"
        );
    }

    #[test]
    fn an_existing_tag_is_kept() {
        let a = verp_address("bounces+shop@example.com", ID);
        assert_eq!(a, format!("bounces+shop+{ID}@example.com"));
        assert_eq!(parse_verp(&a).as_deref(), Some(ID));
    }

    #[test]
    fn other_addresses_name_no_message() {
        assert_eq!(parse_verp("bounces@example.com"), None);
        assert_eq!(parse_verp("jane+news@example.com"), None);
        assert_eq!(parse_verp(&format!("bounces+{ID}")), None);
        assert_eq!(parse_verp(""), None);
        assert!(is_message_id(&crate::ids::new_id()));
        assert!(!is_message_id("01936f4e-8a2b-7c3d-9e4f-0123456789zz"));
    }
}
