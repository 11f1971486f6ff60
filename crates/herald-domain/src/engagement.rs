//! Facts about an open or a click that the report needs: whether a person
//! or a machine fetched the pixel, and the client's address with the part
//! that identifies a household dropped.

use std::net::IpAddr;

/// Opens fetched by software rather than by a reader opening the message:
/// Apple Mail Privacy Protection prefetches every image through Apple's
/// network (17.0.0.0/8) with a bare `Mozilla/5.0` agent; security gateways
/// fetch links and images to scan them. They are recorded, flagged, and
/// kept out of unique opens.
pub fn is_machine_open(user_agent: Option<&str>, ip: Option<IpAddr>) -> bool {
    if let Some(IpAddr::V4(v4)) = ip
        && v4.octets()[0] == 17
    {
        return true;
    }
    let Some(ua) = user_agent.map(str::trim) else {
        return true;
    };
    if ua.is_empty() || ua == "Mozilla/5.0" {
        return true;
    }
    let lower = ua.to_ascii_lowercase();
    const SCANNERS: [&str; 10] = [
        "barracuda",
        "mimecast",
        "proofpoint",
        "symantec",
        "messagelabs",
        "trendmicro",
        "bitdefender",
        "safelinks",
        "python-requests",
        "go-http-client",
    ];
    SCANNERS.iter().any(|s| lower.contains(s))
}

/// The address as recorded: IPv4 without its last octet, IPv6 without its
/// last 80 bits (the /48 of a site).
pub fn truncate_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::", s[0], s[1], s[2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apple_privacy_proxy_and_scanners_are_machines() {
        let apple: IpAddr = "17.58.1.20".parse().unwrap();
        let home: IpAddr = "203.0.113.7".parse().unwrap();
        let mail = Some(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        );
        assert!(is_machine_open(mail, Some(apple)));
        assert!(is_machine_open(Some("Mozilla/5.0"), Some(home)));
        assert!(is_machine_open(None, Some(home)));
        assert!(is_machine_open(Some("Mimecast-Scanner/1.0"), Some(home)));
        assert!(!is_machine_open(mail, Some(home)));
        // Gmail's image proxy fetches when the reader opens: a person.
        assert!(!is_machine_open(
            Some(
                "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
            ),
            Some(home)
        ));
    }

    #[test]
    fn addresses_lose_their_host_part() {
        assert_eq!(truncate_ip("203.0.113.7".parse().unwrap()), "203.0.113.0");
        assert_eq!(
            truncate_ip("2001:db8:85a3:1:2:3:4:5".parse().unwrap()),
            "2001:db8:85a3::"
        );
    }
}
