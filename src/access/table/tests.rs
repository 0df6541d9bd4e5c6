//! The table's rows that the findings of issue 10 and design.md name, spelled out.

use super::*;
use Decision::*;
use Operation::*;
use Visibility::*;

fn deploy(own: bool, scopes: &[Scope]) -> Who {
    Who::DeployToken {
        own,
        scopes: Scopes::of(scopes),
    }
}

#[test]
fn anonymous_reads_public_packages_and_is_asked_to_sign_in_elsewhere() {
    assert_eq!(decide(PackagesRead, &Who::Anonymous, Public), Allow);
    assert_eq!(decide(PackagesDownload, &Who::Anonymous, Public), Allow);
    assert_eq!(decide(PageView, &Who::Anonymous, Public), Allow);
    for visibility in [Private, Internal] {
        assert_eq!(
            decide(PackagesRead, &Who::Anonymous, visibility),
            Unauthorized
        );
        assert_eq!(decide(PageView, &Who::Anonymous, visibility), Unauthorized);
    }
    assert_eq!(
        decide(PackagesUpload, &Who::Anonymous, Public),
        Unauthorized
    );
    assert_eq!(decide(GroupCreate, &Who::Anonymous, Public), Unauthorized);
    assert_eq!(decide(PublicHealth, &Who::Anonymous, Private), Allow);
}

#[test]
fn strangers_see_internal_but_not_private() {
    let stranger = Who::token(None, &[Scope::Api]);
    assert_eq!(decide(PackagesRead, &stranger, Internal), Allow);
    assert_eq!(decide(PackagesRead, &stranger, Private), Hidden);
    assert_eq!(decide(PlaceShow, &stranger, Private), Hidden);
    assert_eq!(decide(PackagesUpload, &stranger, Public), Forbidden);
    assert_eq!(decide(PackagesUpload, &stranger, Private), Hidden);
}

#[test]
fn creating_inside_a_group_needs_maintainer_there() {
    // Finding 1: a stranger may not create a subgroup or project in a group, and a private
    // group answers like a missing one.
    let stranger = Who::token(None, &[Scope::Api]);
    assert_eq!(decide(SubgroupCreate, &stranger, Private), Hidden);
    assert_eq!(decide(ProjectCreate, &stranger, Private), Hidden);
    assert_eq!(decide(SubgroupCreate, &stranger, Public), Forbidden);
    let developer = Who::token(Some(Role::Developer), &[Scope::Api]);
    assert_eq!(decide(SubgroupCreate, &developer, Private), Forbidden);
    let maintainer = Who::token(Some(Role::Maintainer), &[Scope::Api]);
    assert_eq!(decide(SubgroupCreate, &maintainer, Private), Allow);
    assert_eq!(decide(ProjectCreate, &maintainer, Private), Allow);
    assert_eq!(decide(GroupCreate, &stranger, Private), Allow);
    let read_only = Who::token(Some(Role::Owner), &[Scope::ReadApi]);
    assert_eq!(decide(SubgroupCreate, &read_only, Private), Forbidden);
}

#[test]
fn roles_climb_from_reading_to_owning() {
    let as_role = |role| Who::session(Some(role));
    assert_eq!(
        decide(PackagesUpload, &as_role(Role::Reporter), Private),
        Forbidden
    );
    assert_eq!(
        decide(PackagesUpload, &as_role(Role::Developer), Private),
        Allow
    );
    assert_eq!(
        decide(PackagesYank, &as_role(Role::Developer), Private),
        Forbidden
    );
    assert_eq!(
        decide(PackagesDelete, &as_role(Role::Maintainer), Private),
        Allow
    );
    assert_eq!(
        decide(PlaceUpdate, &as_role(Role::Maintainer), Private),
        Forbidden
    );
    assert_eq!(decide(PlaceDelete, &as_role(Role::Owner), Private), Allow);
    assert_eq!(decide(PlaceDelete, &Who::admin(), Private), Allow);
    assert_eq!(decide(UsersAdmin, &as_role(Role::Owner), Public), Forbidden);
    assert_eq!(decide(UsersAdmin, &Who::admin(), Public), Allow);
}

#[test]
fn token_scopes_limit_every_role() {
    let read = Who::token(Some(Role::Owner), &[Scope::ReadPackageRegistry]);
    assert_eq!(decide(PackagesRead, &read, Private), Allow);
    assert_eq!(decide(PackagesUpload, &read, Private), Forbidden);
    // No API scope: the management API refuses before naming anything.
    assert_eq!(decide(PlaceShow, &read, Private), Forbidden);
    let read_api = Who::token(Some(Role::Owner), &[Scope::ReadApi]);
    assert_eq!(decide(MembersList, &read_api, Private), Allow);
    assert_eq!(decide(MembersAdd, &read_api, Private), Forbidden);
}

#[test]
fn deploy_tokens_reach_only_their_own_packages() {
    let read = deploy(true, &[Scope::ReadPackageRegistry]);
    assert_eq!(decide(PackagesRead, &read, Private), Allow);
    assert_eq!(decide(PackagesUpload, &read, Private), Forbidden);
    let write = deploy(true, &[Scope::WritePackageRegistry]);
    assert_eq!(decide(PackagesUpload, &write, Private), Allow);
    assert_eq!(decide(PackagesYank, &write, Private), Forbidden);
    let other = deploy(false, &[Scope::WritePackageRegistry]);
    assert_eq!(decide(PackagesRead, &other, Private), Hidden);
    assert_eq!(decide(PackagesRead, &other, Public), Allow);
    assert_eq!(decide(PackagesUpload, &other, Public), Forbidden);
    assert_eq!(decide(MembersList, &write, Private), Forbidden);
}

#[test]
fn the_operator_may_do_anything() {
    for op in Operation::ALL {
        for visibility in [Private, Internal, Public] {
            assert_eq!(decide(op, &Who::Operator, visibility), Allow, "{op:?}");
        }
    }
}

#[test]
fn accounts_are_their_owners_and_admins() {
    let own = Who::token(Some(Role::Owner), &[Scope::Api]);
    let other = Who::token(None, &[Scope::Api]);
    assert_eq!(decide(TokensRevoke, &own, Private), Allow);
    assert_eq!(decide(TokensRevoke, &other, Private), Hidden);
    assert_eq!(decide(TokensList, &Who::admin(), Private), Allow);
}

#[test]
fn nobody_reaches_above_their_own_role_and_groups_keep_an_owner() {
    use MemberDecision as M;
    let m = Some(Role::Maintainer);
    let o = Some(Role::Owner);
    // Finding 2: a maintainer can neither demote nor remove an owner.
    assert!(matches!(
        member_change(m, o, Some(Role::Guest), o, Some(1)),
        M::Forbidden(_)
    ));
    assert!(matches!(
        member_change(m, o, None, o, Some(1)),
        M::Forbidden(_)
    ));
    assert!(matches!(
        member_change(m, None, o, None, Some(1)),
        M::Forbidden(_)
    ));
    let dev = Some(Role::Developer);
    assert_eq!(member_change(m, dev, m, dev, Some(0)), M::Allow);
    assert_eq!(member_change(o, o, None, o, Some(1)), M::Allow);
    assert_eq!(member_change(o, o, None, o, Some(0)), M::LastOwner);
    assert_eq!(member_change(o, o, m, o, Some(0)), M::LastOwner);
    assert_eq!(member_change(None, o, None, o, Some(0)), M::LastOwner);
    // Projects need no owner of their own (their group's owners keep control).
    assert_eq!(member_change(o, o, None, o, None), M::Allow);
}

#[test]
fn invariants_hold_over_the_whole_table() {
    let callers = [
        Who::Anonymous,
        Who::session(None),
        Who::session(Some(Role::Guest)),
        Who::token(Some(Role::Owner), &[Scope::ReadPackageRegistry]),
        Who::token(None, &[Scope::Api]),
        deploy(false, &[Scope::WritePackageRegistry]),
        deploy(true, &[Scope::WritePackageRegistry]),
    ];
    let mut cells = 0;
    for op in Operation::ALL {
        for who in &callers {
            for visibility in [Private, Internal, Public] {
                let decision = decide(op, who, visibility);
                cells += 1;
                // Anonymous callers are asked to sign in, never told "missing" or "no".
                if *who == Who::Anonymous {
                    assert!(matches!(decision, Allow | Unauthorized), "{op:?}");
                    assert!(!(op.changes() && decision == Allow), "{op:?}");
                }
                // What is public is never hidden from anyone.
                if visibility == Public && op.has_target() {
                    assert_ne!(decision, Hidden, "{op:?} {who:?}");
                }
            }
        }
        // A stranger learns nothing more of a private target than of a missing one: only
        // 404, or the 403 a token without the scope gets for anything.
        let stranger = decide(op, &Who::session(None), Private);
        if op.has_target() {
            assert_eq!(stranger, Hidden, "{op:?}");
        }
    }
    assert_eq!(cells, Operation::ALL.len() * callers.len() * 3);
}
