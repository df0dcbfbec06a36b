//! IAM rules: AWS policy documents that allow `*`, GCP project/folder/organization roles
//! granted to the public or primitive roles granted at all.

use super::rules::{GCP_IAM_PUBLIC, GCP_PRIMITIVE_ROLE, IAM_WILDCARD, Out, PUBLIC_MEMBERS};
use super::{Obj, Val, to_json};

/// The offending grant of a policy document, if it allows `*` actions.
fn wildcard_grant(effect: Option<&str>, actions: &[&str], resources: &[&str]) -> Option<String> {
    if !effect.unwrap_or("Allow").eq_ignore_ascii_case("allow") {
        return None;
    }
    if let Some(a) = actions.iter().find(|a| matches!(**a, "*" | "*:*")) {
        return Some(format!("allows Action \"{a}\""));
    }
    let any_resource = resources.contains(&"*");
    actions
        .iter()
        .find(|a| a.ends_with(":*") && any_resource)
        .map(|a| format!("allows Action \"{a}\" on Resource \"*\""))
}

fn json_strs(v: Option<&serde_json::Value>) -> Vec<&str> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(items)) => {
            items.iter().filter_map(serde_json::Value::as_str).collect()
        }
        _ => Vec::new(),
    }
}

pub(super) fn iam_policy_attr(b: &Obj, out: &mut Out<'_>) {
    let doc = match b.get("policy") {
        Some(Val::Str(text)) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(doc) => doc,
            Err(_) => return,
        },
        Some(v @ Val::Map(_)) => to_json(v),
        _ => return,
    };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(one @ serde_json::Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    for (i, st) in statements.into_iter().enumerate() {
        let effect = st.get("Effect").and_then(serde_json::Value::as_str);
        if effect.is_none() {
            continue;
        }
        let grant = wildcard_grant(
            effect,
            &json_strs(st.get("Action")),
            &json_strs(st.get("Resource")),
        );
        if let Some(what) = grant {
            out.hit(
                &IAM_WILDCARD,
                b.line_of("policy"),
                &format!("statement {} {what}", i + 1),
                &i.to_string(),
            );
        }
    }
}

pub(super) fn iam_document(b: &Obj, out: &mut Out<'_>) {
    for (i, st) in b.blocks("statement").into_iter().enumerate() {
        let Some(st) = st else { continue };
        let strs = |key: &str| -> Vec<&str> {
            st.get(key)
                .map(|v| v.items().into_iter().filter_map(Val::as_str).collect())
                .unwrap_or_default()
        };
        let effect = match st.get("effect") {
            None => None,
            Some(Val::Str(e)) => Some(e.as_str()),
            Some(_) => continue,
        };
        if let Some(what) = wildcard_grant(effect, &strs("actions"), &strs("resources")) {
            out.hit(
                &IAM_WILDCARD,
                st.line,
                &format!("statement {} {what}", i + 1),
                &i.to_string(),
            );
        }
    }
}

pub(super) fn is_gcp_resource_iam(kind: &str) -> bool {
    ["project", "folder", "organization"].iter().any(|scope| {
        kind.strip_prefix("google_")
            .and_then(|k| k.strip_prefix(scope))
            .is_some_and(|k| k == "_iam_member" || k == "_iam_binding")
    })
}

pub(super) fn gcp_iam(b: &Obj, out: &mut Out<'_>) {
    let role = b.get("role").and_then(Val::as_str).unwrap_or_default();
    let key = if b.get("members").is_some() {
        "members"
    } else {
        "member"
    };
    let Some(members) = b.get(key) else { return };
    for member in members.items().into_iter().filter_map(Val::as_str) {
        let line = b.line_of(key);
        if PUBLIC_MEMBERS.contains(&member) {
            out.hit(
                &GCP_IAM_PUBLIC,
                line,
                &format!("{role} granted to {member}"),
                member,
            );
        } else if matches!(role, "roles/owner" | "roles/editor") {
            out.hit(
                &GCP_PRIMITIVE_ROLE,
                line,
                &format!("primitive role {role} granted to {member}"),
                member,
            );
        }
    }
}
