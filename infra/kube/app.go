// Package kube declares the app on a Kubernetes cluster for the scale
// phase, the same on DOKS (DigitalOcean) and k3s (Hetzner):
//
//	Namespace   flavormonk
//	Secret      flavormonk-env       the app's environment, rendered by the
//	                                  app's own config package (scale tier)
//	Secret      flavormonk-migrate   the direct database URL for migrations,
//	                                  when the pods go through a pool
//	Secret      flavormonk-registry  the image pull secret (dockerconfigjson),
//	                                  when appImage's registry is private
//	Job         flavormonk-migrate-<hash>  `flavormonk migrate`, before the rollout
//	Deployment  flavormonk           rolling, maxUnavailable 0; readiness
//	                                  /readyz, liveness /healthz; requests
//	                                  and limits; non-root, read-only root
//	Service     flavormonk           the public entry: LoadBalancer (DOKS:
//	                                  DigitalOcean load balancer ending TLS)
//	                                  or NodePort (k3s: behind the hcloud LB)
//	Service     flavormonk-metrics   ClusterIP only: /metrics in the cluster
//	NetworkPolicy flavormonk         8080 from anywhere, 9090 from pods only
//	HorizontalPodAutoscaler, PodDisruptionBudget
//	metrics-server (kube-system)     only where the cluster lacks one (DOKS)
//
// NewApp composes one function per object (objects.go; metrics-server and
// the Sentinels likewise in their files). It imports only the
// pulumi-kubernetes packages it uses (each is a large compile).
package kube

import (
	"fmt"
	"time"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Names and ports of the app's objects.
const (
	Namespace   = "flavormonk"
	AppName     = "flavormonk"
	EnvSecret   = "flavormonk-env"
	HTTPPort    = 8080
	MetricsPort = 9090
	// NodePort is the fixed node port of the public Service on k3s, where
	// the hcloud load balancer targets every node on it.
	NodePort = 30080
)

// Resources of one app container. Requests are what the scheduler and the
// HPA's utilisation count against; limits cap a runaway pod.
const (
	CPURequest    = "250m"
	MemoryRequest = "256Mi"
	CPULimit      = "1"
	MemoryLimit   = "512Mi"
)

// ServiceType is how the public Service is exposed.
type ServiceType string

// Service types.
const (
	// LoadBalancer: the cluster's cloud controller makes a load balancer
	// (DOKS); TLS ends there with the certificate named in Annotations.
	LoadBalancer ServiceType = "LoadBalancer"
	// NodePortService: every node serves NodePort; an external load balancer
	// (hcloud, declared by the hetzner package) ends TLS and targets the nodes.
	NodePortService ServiceType = "NodePort"
)

// AppArgs configure the app on a cluster.
type AppArgs struct {
	// Image is the app's container image reference.
	Image string
	// Env is the app's environment, KEY=VALUE a line (secret).
	Env pulumi.StringOutput
	// MigrationPostgresURL, when set, is the database URL the migration Job
	// uses instead of the one in Env: migrations take a session advisory
	// lock, which a transaction-mode pool cannot hold (secret).
	MigrationPostgresURL pulumi.StringOutput
	HasMigrationURL      bool
	// PodsMin/PodsMax bound the HPA; TargetCPU is its utilisation target (%).
	PodsMin, PodsMax, TargetCPU int
	// Service is the public Service's type; Annotations configure a cloud
	// load balancer (LoadBalancer only); Ports maps public port → name.
	Service     ServiceType
	Annotations pulumi.StringMapInput
	Ports       []int
	// MetricsServer installs metrics-server into kube-system (DOKS has
	// none by default; k3s ships one).
	MetricsServer bool
	// Sentinel, when set, runs Redis Sentinels for the app (Hetzner).
	Sentinel *SentinelArgs
	// Registry, when set, is the private registry of Image: the pods and
	// the migration Job pull with its credentials.
	Registry *RegistryArgs
	// DependsOn are resources the cluster needs before any object (e.g. the
	// kubeconfig fetch or node pool).
	DependsOn []pulumi.Resource
	// StopTimeout is the longest the app takes to exit after SIGTERM (its
	// drain, grace period and settling); the pods' termination grace
	// period allows it plus StopMargin.
	StopTimeout time.Duration
}

// StopMargin is added to the app's stop timeout in the pods' termination
// grace period, for the signal's delivery and the process's exit.
const StopMargin = 5 * time.Second

// App is the app's objects on the cluster.
type App struct {
	pulumi.ResourceState

	Deployment *appsv1.Deployment
	Service    *corev1.Service
	Job        *batchv1.Job
	// Ingress is the public Service's load balancer address (LoadBalancer
	// services; "" for NodePort).
	Ingress pulumi.StringOutput
}

// NewApp declares the app's objects through provider, one function each,
// in the order they depend on each other.
func NewApp(ctx *pulumi.Context, name string, provider pulumi.ProviderResource, a *AppArgs, opts ...pulumi.ResourceOption) (*App, error) {
	c := &App{}
	if err := ctx.RegisterComponentResource("flavormonk:kube:App", name, c, opts...); err != nil {
		return nil, err
	}
	if err := a.validate(); err != nil {
		return nil, err
	}
	res := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(provider)}
	if len(a.DependsOn) > 0 {
		res = append(res, pulumi.DependsOn(a.DependsOn))
	}
	if a.MetricsServer {
		if err := metricsServer(ctx, res); err != nil {
			return nil, err
		}
	}
	ns, err := newNamespace(ctx, res)
	if err != nil {
		return nil, err
	}
	o := &appObjects{ctx: ctx, a: a, opts: append(res[:len(res):len(res)], pulumi.DependsOn([]pulumi.Resource{ns}))}
	if a.Sentinel != nil {
		if err := sentinel(ctx, a.Sentinel, o.opts); err != nil {
			return nil, err
		}
	}

	// A truncated hash names the Job and annotates the pods: it says that
	// the environment changed, not what it holds, so it need not be secret.
	envHash := pulumi.Unsecret(a.Env.ApplyT(Hash)).(pulumi.StringOutput)
	secret, err := o.envSecret()
	if err != nil {
		return nil, err
	}
	jobDeps := []pulumi.Resource{secret}
	if a.Registry != nil {
		rs, err := o.registrySecret()
		if err != nil {
			return nil, err
		}
		jobDeps = append(jobDeps, rs) // the Deployment waits for the Job
	}
	if a.HasMigrationURL {
		ms, err := o.migrateSecret()
		if err != nil {
			return nil, err
		}
		jobDeps = append(jobDeps, ms)
	}
	if c.Job, err = o.migrationJob(envHash, jobDeps); err != nil {
		return nil, err
	}
	if c.Deployment, err = o.deployment(envHash, secret, c.Job); err != nil {
		return nil, err
	}
	if c.Service, err = o.publicService(c.Deployment); err != nil {
		return nil, err
	}
	if a.Service == LoadBalancer {
		c.Ingress = c.Service.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Ip().Elem()
	} else {
		c.Ingress = pulumi.String("").ToStringOutput()
	}
	if err := o.metricsService(); err != nil {
		return nil, err
	}
	if err := o.networkPolicy(); err != nil {
		return nil, err
	}
	if err := o.autoscaler(c.Deployment); err != nil {
		return nil, err
	}
	if err := o.disruptionBudget(); err != nil {
		return nil, err
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"namespace": pulumi.String(Namespace), "ingress": c.Ingress})
}

func (a *AppArgs) validate() error {
	if a.PodsMin < 1 || a.PodsMax < a.PodsMin {
		return fmt.Errorf("kube: pods %d–%d is not a range", a.PodsMin, a.PodsMax)
	}
	if a.StopTimeout <= 0 {
		return fmt.Errorf("kube: the app's stop timeout is not set")
	}
	if len(a.Ports) == 0 {
		return fmt.Errorf("kube: the public Service needs at least one port")
	}
	switch a.Service {
	case LoadBalancer:
	case NodePortService:
		if len(a.Ports) != 1 {
			return fmt.Errorf("kube: a NodePort Service has one port (%d), got %d", NodePort, len(a.Ports))
		}
	default:
		return fmt.Errorf("kube: Service type %q unknown (allowed: LoadBalancer, NodePort)", a.Service)
	}
	return nil
}
