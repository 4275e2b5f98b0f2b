package devserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/chasm/lib/activity"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	tlog "go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

const clusterName = "active"

// Options configure the embedded server. Zero ports are chosen at random.
type Options struct {
	// DatabaseFile is the SQLite file; "" keeps everything in memory.
	DatabaseFile string
	IP           string // defaults to 127.0.0.1: the dev server has no authorization
	GRPCPort     int
	HTTPPort     int
	// UIPort enables the web UI when non-zero.
	UIPort    int
	Namespace string
	// SearchAttributes are registered on the namespace at creation.
	SearchAttributes map[string]enumspb.IndexedValueType
	// LogFile receives the server's own logs ("" = discard), keeping the
	// terminal readable.
	LogFile string
}

// Server is a running embedded Temporal server and, optionally, its UI.
type Server struct {
	server   temporal.Server
	ui       *uiserver.Server
	uiDone   chan error
	hostPort string
	uiURL    string
	httpURL  string
}

// Start builds and starts the server; it returns once the frontend listens.
func Start(opts Options) (*Server, error) {
	if opts.IP == "" {
		opts.IP = "127.0.0.1"
	}
	if opts.Namespace == "" {
		return nil, errors.New("devserver: namespace required")
	}
	var err error
	for _, p := range []*int{&opts.GRPCPort, &opts.HTTPPort} {
		if *p == 0 {
			if *p, err = freePort(opts.IP); err != nil {
				return nil, err
			}
		}
	}
	sqlConf, err := prepareDatabase(opts)
	if err != nil {
		return nil, err
	}
	conf, err := serverConfig(opts, sqlConf)
	if err != nil {
		return nil, err
	}
	logger := tlog.NewNoopLogger()
	var zapLogger tlog.Logger = logger
	if opts.LogFile != "" {
		zapLogger = tlog.NewZapLogger(tlog.BuildZapLogger(tlog.Config{Level: "info", OutputFile: opts.LogFile, Format: "json"}))
	}
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("devserver: authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, zapLogger)
	if err != nil {
		return nil, fmt.Errorf("devserver: claim mapper: %w", err)
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for name, svc := range map[primitives.ServiceName]string{
		primitives.FrontendService: "frontend", primitives.HistoryService: "history",
		primitives.MatchingService: "matching", primitives.WorkerService: "worker",
	} {
		hosts[name] = static.SingleLocalHost(net.JoinHostPort(opts.IP, strconv.Itoa(conf.Services[svc].RPC.GRPCPort)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(zapLogger),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("devserver: build: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("devserver: start: %w", err)
	}
	s := &Server{
		server:   srv,
		hostPort: net.JoinHostPort(opts.IP, strconv.Itoa(opts.GRPCPort)),
		httpURL:  "http://" + net.JoinHostPort(opts.IP, strconv.Itoa(opts.HTTPPort)),
	}
	if opts.UIPort != 0 {
		if err := s.startUI(opts); err != nil {
			_ = srv.Stop()
			return nil, err
		}
	}
	return s, nil
}

// HostPort is the frontend gRPC address for clients and workers.
func (s *Server) HostPort() string { return s.hostPort }

// HTTPURL is the frontend's HTTP API.
func (s *Server) HTTPURL() string { return s.httpURL }

// UIURL is the web UI address, or "" without a UI.
func (s *Server) UIURL() string { return s.uiURL }

// Stop stops the UI, then the server. Safe to call once.
func (s *Server) Stop() error {
	if s.ui != nil {
		s.ui.Stop()
		<-s.uiDone
	}
	return s.server.Stop()
}

func (s *Server) startUI(opts Options) error {
	s.ui = uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                opts.IP,
		Port:                opts.UIPort,
		TemporalGRPCAddress: s.hostPort,
		EnableUI:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true, // works offline
		DefaultNamespace:    opts.Namespace,
	}))
	s.uiURL = "http://" + net.JoinHostPort(opts.IP, strconv.Itoa(opts.UIPort))
	s.uiDone = make(chan error, 1)
	// Start blocks for the life of the UI server.
	go func() { s.uiDone <- s.ui.Start() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.uiDone:
			s.uiDone <- err
			s.ui = nil
			return fmt.Errorf("devserver: web UI on port %d: %w", opts.UIPort, err)
		default:
		}
		resp, err := http.Get(s.uiURL)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("devserver: web UI did not answer on %s", s.uiURL)
}

// prepareDatabase creates the schema for a new file and the namespace with
// its search attributes (a no-op when they exist).
func prepareDatabase(opts Options) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.DatabaseFile == "" {
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
		conf.DatabaseName = fmt.Sprintf("entravault-%d", time.Now().UnixNano())
	} else {
		conf.ConnectAttributes = map[string]string{"mode": "rwc"}
		conf.DatabaseName = opts.DatabaseFile
		if _, err := os.Stat(opts.DatabaseFile); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o700); err != nil {
				return nil, fmt.Errorf("devserver: %w", err)
			}
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("devserver: create schema in %s: %w", opts.DatabaseFile, err)
			}
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, opts.Namespace, false, opts.SearchAttributes)
	if err != nil {
		return nil, fmt.Errorf("devserver: namespace %q: %w", opts.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("devserver: create namespace %q: %w", opts.Namespace, err)
	}
	return conf, nil
}

func serverConfig(opts Options, sqlConf *config.SQL) (*config.Config, error) {
	var conf config.Config
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = opts.IP
	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-default"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        clusterName,
		CurrentClusterName:       clusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             net.JoinHostPort(opts.IP, strconv.Itoa(opts.GRPCPort)),
				HTTPAddress:            net.JoinHostPort(opts.IP, strconv.Itoa(opts.HTTPPort)),
				ClusterID:              "entravault-dev",
			},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		svc := config.Service{RPC: config.RPC{BindOnIP: opts.IP}}
		if name == "frontend" {
			svc.RPC.GRPCPort = opts.GRPCPort
			svc.RPC.HTTPPort = opts.HTTPPort
		} else {
			p, err := freePort(opts.IP)
			if err != nil {
				return nil, err
			}
			svc.RPC.GRPCPort = p
		}
		conf.Services[name] = svc
	}
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = net.JoinHostPort(opts.IP, strconv.Itoa(opts.GRPCPort))
	return &conf, nil
}

func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.EnableChasm.Key():                                  true,
		activity.Enabled.Key():                                           true,
		// New search attributes and fresh workflows show up in lists at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
}

func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, fmt.Errorf("devserver: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
