package model

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func fixedNow() time.Time { return time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC) }

func TestGenerateIsDeterministic(t *testing.T) {
	dump := func(seed int64) []byte {
		tn := Generate(seed, Sizes{Users: 300}, true, fixedNow)
		var buf bytes.Buffer
		if err := tn.WriteState(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b, c := dump(5), dump(5), dump(6)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed produced different states")
	}
	if bytes.Equal(a, c) {
		t.Fatal("different seeds produced the same state")
	}
}

func TestGeneratedShape(t *testing.T) {
	tn := Generate(1, Sizes{Users: 1000, Groups: 100}, false, fixedNow)
	if got := len(tn.Groups[0].Members); got != 1000 {
		t.Fatalf("All Employees has %d members", got)
	}
	small := 0
	for _, g := range tn.Groups[3:] {
		if len(g.Members) < 50 {
			small++
		}
	}
	if small < 80 {
		t.Fatalf("only %d small groups of 97", small)
	}
	nested := false
	for _, g := range tn.Groups {
		for _, m := range g.Members {
			nested = nested || m.Kind() == KindGroup
		}
	}
	if !nested {
		t.Fatal("no nested groups")
	}
	roles := map[string]bool{}
	for _, ra := range tn.RoleAssignments {
		roles[RoleDefinitions[ra.Role].TemplateID] = true
	}
	if !roles[GlobalAdministratorRole] || !roles[SecurityAdministratorRole] {
		t.Fatal("missing Global or Security Administrator assignment")
	}
	for _, p := range tn.RenderSubscribedSkus()[0]["servicePlans"].([]any) {
		if id := p.(Obj)["servicePlanId"]; id == PlanAADPremium || id == PlanAADPremiumP2 {
			t.Fatal("non-premium tenant has an Entra ID premium plan")
		}
	}
}

func TestGeneratedRecycleBin(t *testing.T) {
	for _, users := range []int{3, 11, 1000} {
		tn := Generate(4, Sizes{Users: users, Groups: 40}, false, fixedNow)
		var bin []Ref
		for _, k := range []Kind{KindUser, KindGroup} {
			for i := 0; i < tn.Len(k); i++ {
				if r := MakeRef(k, int32(i)); tn.StateOf(r) == SoftDeleted {
					bin = append(bin, r)
					if age := fixedNow().Unix() - tn.Meta(r).Deleted; age < 86400 || age > RecycleBinDays*86400 {
						t.Fatalf("%d users: %v deleted %ds ago", users, r, age)
					}
				}
			}
		}
		want := 3 // two users and a Microsoft 365 group
		if users <= 10 {
			want = 1
		}
		if len(bin) != want || (want == 3 && (bin[0].Kind() != KindUser || bin[1].Kind() != KindUser)) ||
			tn.Groups[bin[len(bin)-1].Index()].Type != GroupM365 {
			t.Fatalf("%d users: recycle bin %v", users, bin)
		}
		for _, r := range bin[:want-1] {
			if r.Index() <= RegularUser {
				t.Fatalf("sign-in account %d in the recycle bin", r.Index())
			}
		}
	}
}

func TestMutations(t *testing.T) {
	tn := Generate(2, Sizes{Users: 50, Groups: 10}, true, fixedNow)
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"create user without upn", func() error {
			_, err := tn.Create(KindUser, map[string]any{"displayName": "x", "mailNickname": "x", "accountEnabled": true})
			return err
		}, ErrInvalid},
		{"duplicate upn", func() error {
			_, err := tn.Create(KindUser, map[string]any{"displayName": "x", "mailNickname": "x", "accountEnabled": true,
				"passwordProfile": map[string]any{"password": "x"}, "userPrincipalName": tn.UPN(5)})
			return err
		}, ErrConflict},
		{"restore live user", func() error { return tn.Restore(MakeRef(KindUser, AdminUser)) }, ErrNotFound},
		{"restore security group", func() error {
			r, err := tn.Create(KindGroup, map[string]any{"displayName": "s", "mailNickname": "s", "mailEnabled": false, "securityEnabled": true})
			if err != nil {
				return err
			}
			if err := tn.Delete(r); err != nil {
				return err
			}
			return tn.Restore(r)
		}, ErrNotFound}, // security groups never reach the recycle bin
		{"duplicate member", func() error {
			g := MakeRef(KindGroup, 0)
			return tn.AddMember(g, tn.Groups[0].Members[0], false)
		}, ErrConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestRecycleBinExpires(t *testing.T) {
	now := fixedNow()
	tn := Generate(3, Sizes{Users: 20}, true, func() time.Time { return now })
	u := MakeRef(KindUser, 10)
	if err := tn.Delete(u); err != nil {
		t.Fatal(err)
	}
	if tn.StateOf(u) != SoftDeleted {
		t.Fatal("user not in recycle bin")
	}
	now = now.Add((RecycleBinDays + 1) * 24 * time.Hour)
	if tn.StateOf(u) != Gone || !errors.Is(tn.Restore(u), ErrNotFound) {
		t.Fatal("user still restorable after 30 days")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	tn := Generate(8, Sizes{Users: 200}, true, fixedNow)
	tn.Churn(10)
	tn.RecordConsent("app", []string{"User.Read.All"}, "admin", fixedNow())
	if _, err := tn.Create(KindNamedLocation, map[string]any{"@odata.type": "#microsoft.graph.countryNamedLocation",
		"displayName": "x", "countriesAndRegions": []any{"FR"}, "includeUnknownCountriesAndRegions": nil}); err != nil {
		t.Fatal(err)
	}
	// A scoped role assignment keeps its scope (directoryScopeId).
	scope := "/administrativeUnits/" + tn.AUs[0].ID.String()
	if _, err := tn.AddRoleAssignment(tn.Users[20].ID.String(), RoleDefinitions[4].TemplateID, scope); err != nil {
		t.Fatal(err)
	}
	var saved, before, after bytes.Buffer
	if err := tn.Save(&saved); err != nil {
		t.Fatal(err)
	}
	back, err := Load(&saved, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	_ = tn.WriteState(&before)
	_ = back.WriteState(&after)
	if !bytes.Equal(before.Bytes(), after.Bytes()) {
		t.Fatal("state differs after save and load")
	}
	if got := back.RoleAssignments[len(back.RoleAssignments)-1].Scope(); got != scope {
		t.Fatalf("role assignment scope %q after load, want %q", got, scope)
	}
	if back.Seq() != tn.Seq() {
		t.Fatalf("change log %d entries after load, %d before", back.Seq(), tn.Seq())
	}
}
