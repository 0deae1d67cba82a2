// Package kube declares the app on a Kubernetes cluster for the scale
// phase, the same on DOKS (DigitalOcean) and k3s (Hetzner):
//
//	Namespace   flavormonk
//	Secret      flavormonk-env       the app's environment, rendered by the
//	                                  app's own config package (scale tier)
//	Secret      flavormonk-migrate   the direct database URL for migrations,
//	                                  when the pods go through a pool
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
// It imports only the pulumi-kubernetes packages it uses (each is a large
// compile).
package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
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
	// DependsOn are resources the cluster needs before any object (e.g. the
	// kubeconfig fetch or node pool).
	DependsOn []pulumi.Resource
}

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

// NewApp declares the app's objects through provider.
func NewApp(ctx *pulumi.Context, name string, provider pulumi.ProviderResource, a *AppArgs, opts ...pulumi.ResourceOption) (*App, error) {
	c := &App{}
	if err := ctx.RegisterComponentResource("flavormonk:kube:App", name, c, opts...); err != nil {
		return nil, err
	}
	if a.PodsMin < 1 || a.PodsMax < a.PodsMin {
		return nil, fmt.Errorf("kube: pods %d–%d is not a range", a.PodsMin, a.PodsMax)
	}
	if len(a.Ports) == 0 {
		return nil, fmt.Errorf("kube: the public Service needs at least one port")
	}
	res := []pulumi.ResourceOption{pulumi.Parent(c), pulumi.Provider(provider)}
	if len(a.DependsOn) > 0 {
		res = append(res, pulumi.DependsOn(a.DependsOn))
	}
	labels := pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(AppName), "app.kubernetes.io/part-of": pulumi.String("flavormonk")}
	selector := &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(AppName)}}
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: pulumi.String(Namespace), Labels: labels}
	}

	if a.MetricsServer {
		if err := metricsServer(ctx, res); err != nil {
			return nil, err
		}
	}

	ns, err := corev1.NewNamespace(ctx, "app-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(Namespace), Labels: labels},
	}, res...)
	if err != nil {
		return nil, err
	}
	inNS := append(res[:len(res):len(res)], pulumi.DependsOn([]pulumi.Resource{ns}))
	if a.Sentinel != nil {
		if err := sentinel(ctx, a.Sentinel, inNS); err != nil {
			return nil, err
		}
	}

	envMap := a.Env.ApplyT(func(s string) (map[string]string, error) { return ParseEnv(s) }).(pulumi.StringMapOutput)
	envMap = pulumi.ToSecret(envMap).(pulumi.StringMapOutput)
	// A truncated hash names the Job and annotates the pods: it says that
	// the environment changed, not what it holds, so it need not be secret.
	envHash := pulumi.Unsecret(a.Env.ApplyT(Hash)).(pulumi.StringOutput)
	secret, err := corev1.NewSecret(ctx, "app-env", &corev1.SecretArgs{
		Metadata:   meta(EnvSecret),
		Type:       pulumi.String("Opaque"),
		StringData: envMap,
	}, inNS...)
	if err != nil {
		return nil, err
	}

	// The migration Job: a new image (or environment) is a new Job, which
	// Pulumi waits to complete before the Deployment rolls.
	jobEnv := corev1.EnvVarArray{}
	jobDeps := []pulumi.Resource{secret}
	if a.HasMigrationURL {
		ms, err := corev1.NewSecret(ctx, "migrate-env", &corev1.SecretArgs{
			Metadata:   meta("flavormonk-migrate"),
			Type:       pulumi.String("Opaque"),
			StringData: pulumi.ToSecret(pulumi.StringMap{"FLAVORMONK_POSTGRES_URL": a.MigrationPostgresURL}).(pulumi.StringMapOutput),
		}, inNS...)
		if err != nil {
			return nil, err
		}
		jobDeps = append(jobDeps, ms)
		jobEnv = append(jobEnv, corev1.EnvVarArgs{
			Name: pulumi.String("FLAVORMONK_POSTGRES_URL"),
			ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
				Name: pulumi.String("flavormonk-migrate"), Key: pulumi.String("FLAVORMONK_POSTGRES_URL"),
			}},
		})
	}
	jobName := envHash.ApplyT(func(h string) string { return "flavormonk-migrate-" + Hash(a.Image + h)[:10] }).(pulumi.StringOutput)
	c.Job, err = batchv1.NewJob(ctx, "migrate", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: jobName, Namespace: pulumi.String(Namespace), Labels: labels},
		Spec: &batchv1.JobSpecArgs{
			BackoffLimit:          pulumi.Int(3),
			ActiveDeadlineSeconds: pulumi.Int(600),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("flavormonk-migrate")}},
				Spec: &corev1.PodSpecArgs{
					RestartPolicy:   pulumi.String("Never"),
					SecurityContext: podSecurity(),
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String("migrate"),
						Image:           pulumi.String(a.Image),
						Args:            pulumi.ToStringArray([]string{"migrate"}),
						EnvFrom:         envFrom(),
						Env:             jobEnv,
						Resources:       resources(),
						SecurityContext: containerSecurity(),
					}},
				},
			},
		},
	}, append(inNS[:len(inNS):len(inNS)], pulumi.DependsOn(jobDeps))...)
	if err != nil {
		return nil, err
	}

	httpProbe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(3),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	liveness := httpProbe("/healthz", 10, 3)
	c.Deployment, err = appsv1.NewDeployment(ctx, "app", &appsv1.DeploymentArgs{
		Metadata: meta(AppName),
		Spec: &appsv1.DeploymentSpecArgs{
			// The HPA owns the count after creation (ignoreChanges below).
			Replicas:             pulumi.Int(a.PodsMin),
			RevisionHistoryLimit: pulumi.Int(5),
			Selector:             selector,
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0),
					MaxSurge:       pulumi.Int(1),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: labels,
					// A new environment rolls the pods (the Secret alone would not).
					Annotations: pulumi.StringMap{"flavormonk/env-hash": envHash},
				},
				Spec: &corev1.PodSpecArgs{
					SecurityContext: podSecurity(),
					// Longer than the app's shutdown timeout (20s), so
					// in-flight requests finish.
					TerminationGracePeriodSeconds: pulumi.Int(30),
					AutomountServiceAccountToken:  pulumi.Bool(false),
					TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
						MaxSkew:           pulumi.Int(1),
						TopologyKey:       pulumi.String("kubernetes.io/hostname"),
						WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
						LabelSelector:     selector,
					}},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:  pulumi.String("app"),
						Image: pulumi.String(a.Image),
						Args:  pulumi.ToStringArray([]string{"serve"}),
						Ports: corev1.ContainerPortArray{
							corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(HTTPPort), Protocol: pulumi.String("TCP")},
							corev1.ContainerPortArgs{Name: pulumi.String("metrics"), ContainerPort: pulumi.Int(MetricsPort), Protocol: pulumi.String("TCP")},
						},
						EnvFrom: envFrom(),
						// /readyz is 503 only when the store is unreachable:
						// such a pod leaves the Service until it recovers.
						ReadinessProbe: httpProbe("/readyz", 5, 3),
						LivenessProbe:  liveness,
						// The in-process index is built at start; give it
						// time before liveness counts.
						StartupProbe:    &corev1.ProbeArgs{HttpGet: liveness.HttpGet, PeriodSeconds: pulumi.Int(5), TimeoutSeconds: pulumi.Int(3), FailureThreshold: pulumi.Int(60)},
						Resources:       resources(),
						SecurityContext: containerSecurity(),
						VolumeMounts:    corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")}},
					}},
					Volumes: corev1.VolumeArray{corev1.VolumeArgs{
						Name:     pulumi.String("tmp"),
						EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("64Mi")},
					}},
				},
			},
		},
	}, append(inNS[:len(inNS):len(inNS)], pulumi.DependsOn([]pulumi.Resource{secret, c.Job}), pulumi.IgnoreChanges([]string{"spec.replicas"}))...)
	if err != nil {
		return nil, err
	}

	// The public Service carries the app's port only; /metrics is not on it.
	ports := corev1.ServicePortArray{}
	for _, p := range a.Ports {
		sp := corev1.ServicePortArgs{
			Name:       pulumi.String(fmt.Sprintf("web-%d", p)),
			Port:       pulumi.Int(p),
			TargetPort: pulumi.String("http"),
			Protocol:   pulumi.String("TCP"),
		}
		if a.Service == NodePortService {
			sp.NodePort = pulumi.Int(NodePort)
		}
		ports = append(ports, sp)
	}
	svcMeta := meta(AppName)
	svcSpec := &corev1.ServiceSpecArgs{Type: pulumi.String(string(a.Service)), Selector: selector.MatchLabels, Ports: ports}
	switch a.Service {
	case LoadBalancer:
		svcMeta.Annotations = a.Annotations
		// Client addresses survive (the app trusts the LB's forwarded-for).
		svcSpec.ExternalTrafficPolicy = pulumi.String("Cluster")
	case NodePortService:
		if len(a.Ports) != 1 {
			return nil, fmt.Errorf("kube: a NodePort Service has one port (%d), got %d", NodePort, len(a.Ports))
		}
	default:
		return nil, fmt.Errorf("kube: Service type %q unknown (allowed: LoadBalancer, NodePort)", a.Service)
	}
	c.Service, err = corev1.NewService(ctx, "app-public", &corev1.ServiceArgs{Metadata: svcMeta, Spec: svcSpec},
		append(inNS[:len(inNS):len(inNS)], pulumi.DependsOn([]pulumi.Resource{c.Deployment}))...)
	if err != nil {
		return nil, err
	}
	if a.Service == LoadBalancer {
		c.Ingress = c.Service.Status.LoadBalancer().Ingress().Index(pulumi.Int(0)).Ip().Elem()
	} else {
		c.Ingress = pulumi.String("").ToStringOutput()
	}
	if _, err := corev1.NewService(ctx, "app-metrics", &corev1.ServiceArgs{
		Metadata: meta("flavormonk-metrics"),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: selector.MatchLabels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("metrics"), Port: pulumi.Int(MetricsPort), TargetPort: pulumi.String("metrics"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, inNS...); err != nil {
		return nil, err
	}
	// /metrics from inside the cluster only: an empty namespaceSelector
	// matches every pod of every namespace and no outside address.
	if _, err := networkingv1.NewNetworkPolicy(ctx, "app-network", &networkingv1.NetworkPolicyArgs{
		Metadata: meta(AppName),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: *selector,
			PolicyTypes: pulumi.ToStringArray([]string{"Ingress"}),
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{
				networkingv1.NetworkPolicyIngressRuleArgs{
					Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(HTTPPort), Protocol: pulumi.String("TCP")}},
				},
				networkingv1.NetworkPolicyIngressRuleArgs{
					Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Port: pulumi.Int(MetricsPort), Protocol: pulumi.String("TCP")}},
					From:  networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{}}},
				},
			},
		},
	}, inNS...); err != nil {
		return nil, err
	}
	if _, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, "app-hpa", &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: meta(AppName),
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(AppName),
			},
			MinReplicas: pulumi.Int(a.PodsMin),
			MaxReplicas: pulumi.Int(a.PodsMax),
			Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name:   pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(a.TargetCPU)},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
				// Shrink slowly: five minutes of lower load first.
				ScaleDown: &autoscalingv2.HPAScalingRulesArgs{StabilizationWindowSeconds: pulumi.Int(300)},
			},
		},
	}, append(inNS[:len(inNS):len(inNS)], pulumi.DependsOn([]pulumi.Resource{c.Deployment}))...); err != nil {
		return nil, err
	}
	// Voluntary disruptions (node drains, upgrades) take one pod at a time.
	if _, err := policyv1.NewPodDisruptionBudget(ctx, "app-pdb", &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(AppName),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       selector,
		},
	}, inNS...); err != nil {
		return nil, err
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"namespace": pulumi.String(Namespace), "ingress": c.Ingress})
}

func envFrom() corev1.EnvFromSourceArray {
	return corev1.EnvFromSourceArray{corev1.EnvFromSourceArgs{
		SecretRef: &corev1.SecretEnvSourceArgs{Name: pulumi.String(EnvSecret)},
	}}
}

func resources() *corev1.ResourceRequirementsArgs {
	return &corev1.ResourceRequirementsArgs{
		Requests: pulumi.StringMap{"cpu": pulumi.String(CPURequest), "memory": pulumi.String(MemoryRequest)},
		Limits:   pulumi.StringMap{"cpu": pulumi.String(CPULimit), "memory": pulumi.String(MemoryLimit)},
	}
}

// The image is a static binary on a distroless base: no shell, no root.
func podSecurity() *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		RunAsUser:      pulumi.Int(65532),
		RunAsGroup:     pulumi.Int(65532),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

func containerSecurity() *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		AllowPrivilegeEscalation: pulumi.Bool(false),
		ReadOnlyRootFilesystem:   pulumi.Bool(true),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
	}
}

// ParseEnv reads KEY=VALUE lines (the app config's Env rendering) into a
// map. Blank lines are skipped; anything else without '=' is an error, and
// so is a key given twice.
func ParseEnv(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\r") {
			return nil, fmt.Errorf("kube: environment line %d is not KEY=VALUE", i+1)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("kube: environment key %s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

// Keys lists a map's keys in order (for tests and messages; never values).
func Keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Hash identifies a value without revealing it.
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
