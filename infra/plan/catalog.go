package plan

// catalog is what a cloud offers that the program may use: regions, OS
// sizes per role and the defaults of each phase (images: TestedImages). Live availability
// is checked by the preflight (cost.Preflight) when a token is given.
type catalog struct {
	defaultRegion string
	regions       map[string]string // region → network zone (Hetzner) or ""
	sizes         map[Role][]string
	retired       map[string]string // retired size → what to use instead
	defaults      map[Phase]map[Role]string
}

var hetznerServers = []string{
	"cx23", "cx33", "cx43", "cx53",
	"cpx12", "cpx22", "cpx32", "cpx42", "cpx52", "cpx62",
	"ccx13", "ccx23", "ccx33", "ccx43", "ccx53", "ccx63",
}

var doDroplets = []string{
	"s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb", "s-8vcpu-16gb",
	"s-2vcpu-4gb-amd", "s-4vcpu-8gb-amd", "g-2vcpu-8gb", "c-2", "c-4",
}

var doDatabases = []string{"db-s-1vcpu-1gb", "db-s-1vcpu-2gb", "db-s-2vcpu-4gb", "db-s-4vcpu-8gb", "db-s-6vcpu-16gb"}

var catalogs = map[Cloud]*catalog{
	Hetzner: {
		defaultRegion: "fsn1",
		regions:       map[string]string{"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central", "ash": "us-east", "hil": "us-west", "sin": "ap-southeast"},
		sizes: map[Role][]string{
			RoleApp: hetznerServers, RoleDB: hetznerServers, RoleRedis: hetznerServers, RoleChroma: hetznerServers,
			RoleLB:   {"lb11", "lb21", "lb31"},
			RoleNode: hetznerServers, RoleControl: hetznerServers,
		},
		retired: map[string]string{
			"cx22": "use cx23", "cx32": "use cx33", "cx42": "use cx43", "cx52": "use cx53",
			"cpx11": "use cpx12", "cpx21": "use cpx22", "cpx31": "use cpx32", "cpx41": "use cpx42", "cpx51": "use cpx52",
		},
		defaults: map[Phase]map[Role]string{
			MVP:     {RoleApp: "cx23", RoleDB: "cx23"},
			Upgrade: {RoleApp: "cx33", RoleDB: "cx33", RoleRedis: "cx23", RoleChroma: "cx33", RoleLB: "lb11"},
			Scale:   {RoleControl: "cx23", RoleNode: "cx33", RoleDB: "cx33", RoleRedis: "cx23", RoleChroma: "cx33", RoleLB: "lb11"},
		},
	},
	DigitalOcean: {
		defaultRegion: "fra1",
		regions: map[string]string{"fra1": "", "ams3": "", "lon1": "", "nyc1": "", "nyc3": "", "sfo3": "", "tor1": "",
			"sgp1": "", "blr1": "", "syd1": "", "atl1": ""},
		sizes: map[Role][]string{
			RoleApp: doDroplets, RoleChroma: doDroplets, RoleDB: doDatabases, RoleRedis: doDatabases,
			RoleLB:   {"lb-small", "lb-medium", "lb-large"},
			RoleNode: doDroplets,
		},
		retired: map[string]string{},
		defaults: map[Phase]map[Role]string{
			MVP:     {RoleApp: "s-1vcpu-2gb", RoleDB: "db-s-1vcpu-1gb"},
			Upgrade: {RoleApp: "s-2vcpu-4gb", RoleDB: "db-s-1vcpu-2gb", RoleRedis: "db-s-1vcpu-1gb", RoleChroma: "s-2vcpu-4gb", RoleLB: "lb-small"},
			// Standby nodes need db-s-1vcpu-2gb or larger.
			Scale: {RoleNode: "s-2vcpu-4gb", RoleDB: "db-s-1vcpu-2gb", RoleRedis: "db-s-1vcpu-2gb", RoleChroma: "s-2vcpu-4gb", RoleLB: "lb-small"},
		},
	},
}
