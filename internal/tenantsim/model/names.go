package model

// Word tables for generated values. Their order is part of the deterministic
// output: append only.
var (
	firstNames = []string{"Adele", "Alex", "Allan", "Amara", "Ana", "Andre", "Anika", "Arjun", "Ben", "Bianca",
		"Carlos", "Chen", "Chloe", "Christie", "Daniel", "Diego", "Dmitri", "Elena", "Emil", "Emma",
		"Farah", "Fatima", "Felix", "Grady", "Hana", "Hiro", "Ines", "Irvin", "Isaiah", "Ivan",
		"Jana", "Johanna", "Joni", "Jonas", "Kai", "Kenji", "Lara", "Lee", "Lidia", "Lynne",
		"Malik", "Maria", "Megan", "Miriam", "Nadia", "Nestor", "Nia", "Noah", "Olga", "Omar",
		"Patti", "Pedro", "Pradeep", "Priya", "Quinn", "Rafael", "Rina", "Sara", "Sofia", "Sven",
		"Tariq", "Tomas", "Uma", "Valentina", "Victor", "Wei", "Yara", "Yusuf", "Zara", "Zoe"}
	lastNames = []string{"Abbott", "Adams", "Ahmed", "Alvarez", "Andersen", "Bauer", "Bergstrom", "Brown", "Castro", "Chen",
		"Costa", "Dubois", "Eriksen", "Fernandes", "Fischer", "Garcia", "Gonzalez", "Gupta", "Hansen", "Hoffmann",
		"Ito", "Jansen", "Johnson", "Kaur", "Khan", "Kim", "Kowalski", "Larsen", "Lopez", "Martin",
		"Meyer", "Moreau", "Muller", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Patel", "Petrov",
		"Quist", "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Varga", "Vance",
		"Wagner", "Walker", "Weber", "Wilson", "Wright", "Yamamoto", "Young", "Zhang", "Ziegler", "Zimmermann"}
	departments = []string{"Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Legal", "Operations",
		"Support", "Research", "IT", "Procurement", "Executive Management"}
	jobTitles = []string{"Software Engineer", "Senior Software Engineer", "Account Executive", "Marketing Manager",
		"Financial Analyst", "HR Generalist", "Counsel", "Operations Manager", "Support Engineer", "Research Scientist",
		"IT Administrator", "Buyer", "Director", "Vice President", "Product Manager", "Designer"}
	offices = []struct{ City, State, Country, Usage, Street, Postal, Phone string }{
		{"Seattle", "WA", "United States", "US", "1 Microsoft Way", "98052", "+1 425 555 01"},
		{"New York", "NY", "United States", "US", "11 Times Square", "10036", "+1 212 555 01"},
		{"London", "", "United Kingdom", "GB", "2 Kingdom Street", "W2 6BD", "+44 20 7946 0"},
		{"Berlin", "", "Germany", "DE", "Unter den Linden 17", "10117", "+49 30 901820"},
		{"Paris", "", "France", "FR", "39 Quai du President Roosevelt", "92130", "+33 1 70 18 0"},
		{"Tokyo", "", "Japan", "JP", "2-16-3 Konan", "108-0075", "+81 3 4332 0"},
		{"Sydney", "NSW", "Australia", "AU", "1 Epping Road", "2113", "+61 2 9870 0"},
		{"Sao Paulo", "SP", "Brazil", "BR", "Av. Pres. Juscelino Kubitschek 1909", "04543-907", "+55 11 5504 0"},
		{"Bangalore", "KA", "India", "IN", "Embassy Golf Links", "560071", "+91 80 6658 0"},
		{"Toronto", "ON", "Canada", "CA", "81 Bay Street", "M5J 0E7", "+1 416 555 01"},
	}
	groupTopics = []string{"Project", "Team", "Committee", "Guild", "Squad", "Program", "Council", "Taskforce",
		"Community", "Working Group"}
	groupWords = []string{"Apollo", "Aurora", "Borealis", "Cascade", "Delta", "Ember", "Falcon", "Granite", "Harbor",
		"Horizon", "Iris", "Juniper", "Keystone", "Lighthouse", "Meridian", "Nimbus", "Orion", "Pioneer", "Quartz",
		"Redwood", "Summit", "Tidal", "Umbra", "Vanguard", "Willow", "Zephyr"}
	appWords = []string{"Expense", "Payroll", "CRM", "Wiki", "Ticketing", "Build", "Analytics", "Travel", "Learning",
		"Recruiting", "Inventory", "Contracts", "Signage", "Survey", "Backup", "Monitoring"}
	appSuffixes = []string{"Portal", "Connector", "Sync", "Service", "App", "Bot", "Gateway", "Dashboard"}
	signInApps  = []struct{ ID, Name string }{
		{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"},
		{"00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"},
		{"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"},
		{"c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"},
		{"4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"},
		{"00000003-0000-0000-c000-000000000000", "Microsoft Graph"},
	}
	auditActivities = []struct{ Name, Category, TargetType, Service string }{
		{"Add member to group", "GroupManagement", "Group", "Core Directory"},
		{"Remove member from group", "GroupManagement", "Group", "Core Directory"},
		{"Update user", "UserManagement", "User", "Core Directory"},
		{"Add user", "UserManagement", "User", "Core Directory"},
		{"Reset user password", "UserManagement", "User", "Self-service Password Management"},
		{"Update application", "ApplicationManagement", "Application", "Core Directory"},
		{"Add service principal", "ApplicationManagement", "ServicePrincipal", "Core Directory"},
		{"Update conditional access policy", "Policy", "Policy", "Conditional Access"},
		{"Add member to role", "RoleManagement", "User", "Core Directory"},
		{"Consent to application", "ApplicationManagement", "ServicePrincipal", "Core Directory"},
	}
	signInFailures = []struct {
		Code   int
		Reason string
	}{
		{50126, "Error validating credentials due to invalid username or password."},
		{50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource."},
		{53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."},
	}
)
