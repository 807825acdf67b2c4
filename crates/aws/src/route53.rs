//! Reading a record pair from a Route 53 zone, shared by the readiness facts and the actuator.

use crate::readiness::same_dns_name;
use crate::retry::Caller;
use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use pilotlight_core::CapabilityError;

/// Pages of a zone's listing read at most while looking for one record's sets.
const MAX_RECORD_PAGES: u32 = 10;

/// Which record pair to read.
pub(crate) struct RecordQuery<'a> {
    /// Hosted zone id.
    pub zone_id: &'a str,
    /// Record name.
    pub record_name: &'a str,
    /// Record type (`A`, `AAAA`, `CNAME`).
    pub record_type: &'a str,
    /// Set identifier of the primary record set.
    pub primary_set: &'a str,
    /// Set identifier of the DR record set.
    pub dr_set: &'a str,
}

/// The (primary, DR) record sets of a record, read from the zone's sorted listing starting at
/// the record's name and type and following pagination only while the record continues.
/// `None` when the zone does not exist.
pub(crate) async fn record_pair(
    caller: &Caller,
    client: &aws_sdk_route53::Client,
    region: &str,
    q: &RecordQuery<'_>,
) -> Result<Option<(Option<ResourceRecordSet>, Option<ResourceRecordSet>)>, CapabilityError> {
    let rtype = RrType::from(q.record_type.to_ascii_uppercase().as_str());
    let (mut primary, mut dr) = (None, None);
    let mut next: Option<(String, Option<RrType>, Option<String>)> =
        Some((q.record_name.to_string(), Some(rtype.clone()), None));
    let mut pages = 0;
    let mut seen = false;
    while let Some((name, ty, ident)) = next.take() {
        pages += 1;
        let Some(out) = caller
            .call_opt(
                "route53",
                region,
                "ListResourceRecordSets",
                &["NoSuchHostedZone"],
                || {
                    client
                        .list_resource_record_sets()
                        .hosted_zone_id(q.zone_id)
                        .start_record_name(&name)
                        .set_start_record_type(ty.clone())
                        .set_start_record_identifier(ident.clone())
                        .send()
                },
            )
            .await?
        else {
            return Ok(None);
        };
        let mut past = false;
        for rrset in out.resource_record_sets() {
            let ours = same_dns_name(rrset.name(), q.record_name) && rrset.r#type() == &rtype;
            if !ours {
                // Entries before the record (an emulator ignoring the start) are skipped; the
                // first other entry after it ends the record.
                if seen {
                    past = true;
                    break;
                }
                continue;
            }
            seen = true;
            match rrset.set_identifier() {
                Some(id) if id == q.primary_set => primary = Some(rrset.clone()),
                Some(id) if id == q.dr_set => dr = Some(rrset.clone()),
                _ => {}
            }
        }
        if !past
            && out.is_truncated()
            && (primary.is_none() || dr.is_none())
            && pages < MAX_RECORD_PAGES
        {
            if let Some(n) = out.next_record_name() {
                let following = (
                    n.to_string(),
                    out.next_record_type().cloned(),
                    out.next_record_identifier().map(str::to_string),
                );
                // Never ask for the same page twice (a listing that makes no progress).
                if following != (name.clone(), ty.clone(), ident.clone()) {
                    next = Some(following);
                }
            }
        }
    }
    Ok(Some((primary, dr)))
}
