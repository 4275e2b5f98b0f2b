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
// policies, applications) plugs in as another row.
//
// # Idempotency
//
// Every action carries what the tenant held at plan time (Before) and what
// the restore brings back (After). Apply re-reads the live state first:
// already After → nothing to write; still Before → write; anything else →
// "changed since plan", never overwritten. So a plan applied twice, or an
// apply retried after a crash, writes nothing twice. Re-created objects are
// found again by their natural key (UPN, mailNickname) before creating.
//
// # Id map
//
// A re-created object gets a new id. IDMap records old → new per tenant, and
// every later link, in this restore and in later ones, goes through it.
package restore
