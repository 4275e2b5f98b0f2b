// Package restore decides what a restore does: it compares a backed-up
// snapshot with the live tenant and derives one Action per difference, in
// the order Entra needs them (undeletes, re-creates, property reverts,
// links, role assignments, rollback deletions), and says for everything it
// cannot restore why. It does no I/O: activities feed it objects and carry
// out its actions.
//
// # Object kinds
//
// What can be written back to Graph, and how, is a table of Kinds (kinds.go)
// keyed by the snapshot's object type ("user", "group", …) and relation type
// ("group.members", …). A further object kind (conditional-access
// policies, applications) plugs in as another row. Children (children.go)
// are collections created item by item and matched by key, not id
// (federated credentials, app role assignments, delegated grants); a
// kind's Parts are what Graph returns only to a single read (certificate
// public keys), merged into the object before it is compared.
//
// # Idempotency
//
// Every action carries what the tenant held at plan time (Before) and what
// the restore brings back (After). Apply re-reads the live state first:
// already After → nothing to write; still Before → write; anything else →
// "changed since plan", never overwritten. So a plan applied twice, or an
// apply retried after a crash, writes nothing twice. Re-created objects are
// found again by their natural key (UPN, mailNickname; an application by
// the uniqueName it is re-created with, which Entra keeps unique) before
// creating.
//
// # Id map
//
// A re-created object gets a new id (an application a new appId too).
// IDMap records old → new per tenant, and every later link, in this restore
// and in later ones, goes through it; so do the ids other objects name (a
// policy's applications and locations), rewritten at apply, even in
// objects that did not change.
package restore
