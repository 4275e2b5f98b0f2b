package entragen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

var (
	givenNames  = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Radia", "Tim", "Hedy", "John", "Katherine", "Niklaus", "Shafi", "Leslie", "Sophie", "Yukihiro"}
	surnames    = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Dijkstra", "Perlman", "Berners-Lee", "Lamarr", "Backus", "Johnson", "Wirth", "Goldwasser", "Lamport", "Wilson", "Matsumoto"}
	departments = []string{"Engineering", "Finance", "Sales", "Marketing", "Legal", "Human Resources", "Operations", "Support", "Research", "IT"}
	titles      = []string{"Engineer", "Senior Engineer", "Manager", "Director", "Analyst", "Consultant", "Specialist", "Architect", "Coordinator", "Administrator"}
	cities      = []string{"Seattle", "London", "Berlin", "Paris", "Tokyo", "Sydney", "Toronto", "Madrid", "Dublin", "Zurich"}
	services    = []string{"exchange", "SharePoint", "MicrosoftOffice", "TeamspaceAPI", "ProcessSimple", "PowerAppsService", "OfficeForms", "Sway", "YammerEnterprise", "MicrosoftStream", "Deskless", "To-Do", "WhiteboardServices", "RMSOnline", "MicrosoftCommunicationsOnline"}
)

// Tenant generates users of one synthetic tenant.
type Tenant struct {
	Domain string
	seed   uint64
	plans  []string // service plan ids shared by all users, like real SKUs
	skus   []string
}

// NewTenant returns a deterministic tenant for seed.
func NewTenant(seed uint64) *Tenant {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	t := &Tenant{Domain: fmt.Sprintf("contoso%d.onmicrosoft.com", seed%1000), seed: seed}
	for range 40 {
		t.plans = append(t.plans, guid(r))
	}
	for range 4 {
		t.skus = append(t.skus, guid(r))
	}
	return t
}

func guid(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// User is a mutable user record; JSON renders it like Graph does.
type User map[string]any

// ID returns the user's object id.
func (u User) ID() string { return u["id"].(string) }

// User returns user number i (deterministic).
func (t *Tenant) User(i int) User {
	r := rand.New(rand.NewPCG(t.seed, uint64(i)+1))
	gn, sn := givenNames[r.IntN(len(givenNames))], surnames[r.IntN(len(surnames))]
	upn := fmt.Sprintf("%s.%s%d@%s", gn, sn, i, t.Domain)
	created := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(6*365*24)) * time.Hour)
	ext := map[string]any{}
	for k := 1; k <= 15; k++ {
		if k <= 3 {
			ext[fmt.Sprintf("extensionAttribute%d", k)] = fmt.Sprintf("CC-%05d", r.IntN(100000))
		} else {
			ext[fmt.Sprintf("extensionAttribute%d", k)] = nil
		}
	}
	var assigned []any
	for p := range 12 + r.IntN(10) {
		assigned = append(assigned, map[string]any{
			"assignedDateTime": created.Add(time.Duration(p) * 24 * time.Hour).Format(time.RFC3339),
			"capabilityStatus": "Enabled",
			"service":          services[r.IntN(len(services))],
			"servicePlanId":    t.plans[r.IntN(len(t.plans))],
		})
	}
	u := User{
		"@odata.type":                     "#microsoft.graph.user",
		"id":                              guid(r),
		"accountEnabled":                  r.IntN(20) != 0,
		"ageGroup":                        nil,
		"businessPhones":                  []any{fmt.Sprintf("+1 425 555 %04d", r.IntN(10000))},
		"city":                            cities[r.IntN(len(cities))],
		"companyName":                     "Contoso Ltd",
		"country":                         "US",
		"createdDateTime":                 created.Format(time.RFC3339),
		"creationType":                    nil,
		"department":                      departments[r.IntN(len(departments))],
		"displayName":                     gn + " " + sn,
		"employeeId":                      fmt.Sprintf("E%07d", i),
		"employeeHireDate":                created.Format(time.RFC3339),
		"employeeType":                    "Employee",
		"givenName":                       gn,
		"jobTitle":                        titles[r.IntN(len(titles))],
		"mail":                            upn,
		"mailNickname":                    fmt.Sprintf("%s.%s%d", gn, sn, i),
		"mobilePhone":                     fmt.Sprintf("+1 206 555 %04d", r.IntN(10000)),
		"officeLocation":                  fmt.Sprintf("%d/%d", 1+r.IntN(40), 1000+r.IntN(3000)),
		"onPremisesDistinguishedName":     fmt.Sprintf("CN=%s %s,OU=Users,OU=%s,DC=contoso,DC=com", gn, sn, departments[r.IntN(len(departments))]),
		"onPremisesDomainName":            "contoso.com",
		"onPremisesExtensionAttributes":   ext,
		"onPremisesImmutableId":           fmt.Sprintf("%x", r.Uint64()),
		"onPremisesLastSyncDateTime":      "2026-11-25T04:12:33Z",
		"onPremisesSamAccountName":        fmt.Sprintf("%c%s%d", gn[0], sn, i),
		"onPremisesSecurityIdentifier":    fmt.Sprintf("S-1-5-21-%d-%d-%d-%d", r.Uint32(), r.Uint32(), r.Uint32(), 1000+i),
		"onPremisesSyncEnabled":           true,
		"onPremisesUserPrincipalName":     fmt.Sprintf("%s.%s%d@contoso.com", gn, sn, i),
		"otherMails":                      []any{},
		"passwordPolicies":                "DisablePasswordExpiration",
		"postalCode":                      fmt.Sprintf("%05d", r.IntN(100000)),
		"preferredLanguage":               "en-US",
		"proxyAddresses":                  []any{"SMTP:" + upn, fmt.Sprintf("smtp:%s.%s%d@contoso.com", gn, sn, i)},
		"securityIdentifier":              fmt.Sprintf("S-1-12-1-%d-%d-%d-%d", r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()),
		"state":                           "WA",
		"streetAddress":                   fmt.Sprintf("%d Main Street", 1+r.IntN(9999)),
		"surname":                         sn,
		"usageLocation":                   "US",
		"userPrincipalName":               upn,
		"userType":                        "Member",
		"lastPasswordChangeDateTime":      created.Add(time.Duration(r.IntN(20000)) * time.Hour).Format(time.RFC3339),
		"assignedLicenses":                []any{map[string]any{"disabledPlans": []any{}, "skuId": t.skus[r.IntN(len(t.skus))]}},
		"assignedPlans":                   assigned,
		"identities":                      []any{map[string]any{"signInType": "userPrincipalName", "issuer": t.Domain, "issuerAssignedId": upn}},
		"provisionedPlans":                []any{map[string]any{"capabilityStatus": "Enabled", "provisioningStatus": "Success", "service": "exchange"}},
		"deletedDateTime":                 nil,
		"externalUserState":               nil,
		"showInAddressList":               nil,
		"legalAgeGroupClassification":     nil,
		"consentProvidedForMinor":         nil,
		"securityIdentifierHistory":       []any{},
		"refreshTokensValidFromDateTime":  created.Format(time.RFC3339),
		"signInSessionsValidFromDateTime": created.Format(time.RFC3339),
	}
	return u
}

// JSON renders the user as Graph would return it.
func (u User) JSON() []byte {
	b, err := json.Marshal(map[string]any(u))
	if err != nil {
		panic(err)
	}
	return b
}

// Mutate makes a small realistic change (title, department, phone, sign-in
// validity, license plan) as daily churn does.
func (t *Tenant) Mutate(u User, r *rand.Rand) {
	switch r.IntN(4) {
	case 0:
		u["jobTitle"] = titles[r.IntN(len(titles))] + fmt.Sprintf(" %d", r.IntN(5))
	case 1:
		u["department"] = departments[r.IntN(len(departments))]
		u["officeLocation"] = fmt.Sprintf("%d/%d", 1+r.IntN(40), 1000+r.IntN(3000))
	case 2:
		u["mobilePhone"] = fmt.Sprintf("+1 206 555 %04d", r.IntN(10000))
	default:
		u["refreshTokensValidFromDateTime"] = time.Date(2026, 11, 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.UTC).Format(time.RFC3339)
	}
}
