//! Ingress rules open to the whole internet on admin (SSH, RDP) and database ports: GCP
//! firewalls, AWS security groups and rules, Azure network security rules.

use super::Obj;
use super::Val;
use super::rules::{ADMIN_PORT_OPEN, DB_PORT_OPEN, Out, lower};

const WATCHED: [(u32, &str, bool); 7] = [
    (22, "SSH", true),
    (3389, "RDP", true),
    (3306, "MySQL", false),
    (5432, "PostgreSQL", false),
    (1433, "SQL Server", false),
    (6379, "Redis", false),
    (27017, "MongoDB", false),
];

fn is_anywhere(v: &Val) -> bool {
    v.items().into_iter().any(|i| {
        matches!(
            i.as_str().map(str::trim),
            Some("0.0.0.0/0" | "::/0" | "*" | "0.0.0.0" | "Internet" | "Any")
        )
    })
}

/// A port spec: `22`, `"22"`, `"20-30"`, `"*"`.
fn port_range(v: &Val) -> Option<(u32, u32)> {
    if let Some(p) = v.as_port() {
        return Some((p, p));
    }
    let s = v.as_str()?.trim();
    if s == "*" {
        return Some((0, 65535));
    }
    let (a, b) = s.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Reports the watched ports inside `ranges`, open from anywhere.
fn exposed(out: &mut Out<'_>, line: usize, ranges: &[(u32, u32)]) {
    for admin in [true, false] {
        let ports: Vec<String> = WATCHED
            .iter()
            .filter(|(port, _, is_admin)| {
                *is_admin == admin && ranges.iter().any(|(a, b)| a <= port && port <= b)
            })
            .map(|(port, name, _)| format!("{name} ({port})"))
            .collect();
        if !ports.is_empty() {
            let rule = if admin {
                &ADMIN_PORT_OPEN
            } else {
                &DB_PORT_OPEN
            };
            let what = format!("ingress from the internet to {}", ports.join(", "));
            out.hit(rule, line, &what, &format!("{line}:{}", ports.join(",")));
        }
    }
}

pub(super) fn gcp_firewall(b: &Obj, out: &mut Out<'_>) {
    if matches!(b.get("disabled"), Some(Val::Bool(true))) {
        return;
    }
    match lower(b.get("direction")).as_deref() {
        None if b.get("direction").is_none() => {}
        Some("ingress") => {}
        _ => return,
    }
    if !b.get("source_ranges").is_some_and(is_anywhere) {
        return;
    }
    for allow in b.blocks("allow").into_iter().flatten() {
        if !matches!(
            lower(allow.get("protocol")).as_deref(),
            Some("tcp" | "all" | "6")
        ) {
            continue;
        }
        let ranges: Vec<(u32, u32)> = match allow.get("ports") {
            None => vec![(0, 65535)],
            Some(ports) => ports.items().into_iter().filter_map(port_range).collect(),
        };
        exposed(out, allow.line.max(b.line), &ranges);
    }
}

pub(super) fn aws_ingress(rule: &Obj, out: &mut Out<'_>) {
    let open = rule.get("cidr_blocks").is_some_and(is_anywhere)
        || rule.get("ipv6_cidr_blocks").is_some_and(is_anywhere);
    if open {
        aws_ports(rule, "protocol", out);
    }
}

pub(super) fn aws_vpc_ingress(rule: &Obj, out: &mut Out<'_>) {
    let open = rule.get("cidr_ipv4").is_some_and(is_anywhere)
        || rule.get("cidr_ipv6").is_some_and(is_anywhere);
    if open {
        aws_ports(rule, "ip_protocol", out);
    }
}

fn aws_ports(rule: &Obj, proto_key: &str, out: &mut Out<'_>) {
    let range = match lower(rule.get(proto_key)).as_deref() {
        Some("-1" | "all") => Some((0, 65535)),
        Some("tcp" | "6") => rule
            .get("from_port")
            .and_then(Val::as_port)
            .zip(rule.get("to_port").and_then(Val::as_port)),
        _ => None,
    };
    if let Some(range) = range {
        exposed(out, rule.line, &[range]);
    }
}

pub(super) fn azure_nsg_rule(rule: &Obj, out: &mut Out<'_>) {
    let is =
        |key: &str, want: &[&str]| lower(rule.get(key)).is_some_and(|v| want.contains(&v.as_str()));
    if !is("direction", &["inbound"]) || !is("access", &["allow"]) || !is("protocol", &["tcp", "*"])
    {
        return;
    }
    let open = ["source_address_prefix", "source_address_prefixes"]
        .iter()
        .any(|k| rule.get(k).is_some_and(is_anywhere));
    if !open {
        return;
    }
    let ranges: Vec<(u32, u32)> = ["destination_port_range", "destination_port_ranges"]
        .iter()
        .filter_map(|k| rule.get(k))
        .flat_map(Val::items)
        .filter_map(port_range)
        .collect();
    exposed(out, rule.line, &ranges);
}
