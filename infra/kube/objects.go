package kube

import (
	"fmt"
	"math"
	"time"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// appObjects declares the app's objects in its namespace, one method each.
type appObjects struct {
	ctx *pulumi.Context
	a   *AppArgs
	// opts: parented to the App, through the provider, after the cluster's
	// dependencies and the namespace.
	opts []pulumi.ResourceOption
}

// after is o.opts plus dependencies of one object.
func (o *appObjects) after(deps ...pulumi.Resource) []pulumi.ResourceOption {
	return append(o.opts[:len(o.opts):len(o.opts)], pulumi.DependsOn(deps))
}

func appLabels() pulumi.StringMap {
	return pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(AppName), "app.kubernetes.io/part-of": pulumi.String("flavormonk")}
}

func appSelector() *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(AppName)}}
}

func appMeta(name string) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(Namespace), Labels: appLabels()}
}

func newNamespace(ctx *pulumi.Context, opts []pulumi.ResourceOption) (*corev1.Namespace, error) {
	return corev1.NewNamespace(ctx, "app-namespace", &corev1.NamespaceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(Namespace), Labels: appLabels()},
	}, opts...)
}

// envSecret holds the app's environment, which the pods load whole.
func (o *appObjects) envSecret() (*corev1.Secret, error) {
	envMap := o.a.Env.ApplyT(func(s string) (map[string]string, error) { return ParseEnv(s) }).(pulumi.StringMapOutput)
	return corev1.NewSecret(o.ctx, "app-env", &corev1.SecretArgs{
		Metadata:   appMeta(EnvSecret),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.ToSecret(envMap).(pulumi.StringMapOutput),
	}, o.opts...)
}

// migrateSecret holds the migration Job's direct database URL.
func (o *appObjects) migrateSecret() (*corev1.Secret, error) {
	return corev1.NewSecret(o.ctx, "migrate-env", &corev1.SecretArgs{
		Metadata:   appMeta(migrateSecret),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.ToSecret(pulumi.StringMap{"FLAVORMONK_POSTGRES_URL": o.a.MigrationPostgresURL}).(pulumi.StringMapOutput),
	}, o.opts...)
}

const migrateSecret = "flavormonk-migrate"

// migrationJob runs `flavormonk migrate`: a new image (or environment) is a
// new Job, which Pulumi waits to complete before the Deployment rolls.
func (o *appObjects) migrationJob(envHash pulumi.StringOutput, deps []pulumi.Resource) (*batchv1.Job, error) {
	a := o.a
	env := corev1.EnvVarArray{}
	if a.HasMigrationURL {
		env = append(env, corev1.EnvVarArgs{
			Name: pulumi.String("FLAVORMONK_POSTGRES_URL"),
			ValueFrom: &corev1.EnvVarSourceArgs{SecretKeyRef: &corev1.SecretKeySelectorArgs{
				Name: pulumi.String(migrateSecret), Key: pulumi.String("FLAVORMONK_POSTGRES_URL"),
			}},
		})
	}
	name := envHash.ApplyT(func(h string) string { return "flavormonk-migrate-" + Hash(a.Image + h)[:10] }).(pulumi.StringOutput)
	return batchv1.NewJob(o.ctx, "migrate", &batchv1.JobArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: name, Namespace: pulumi.String(Namespace), Labels: appLabels()},
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
						Env:             env,
						Resources:       resources(),
						SecurityContext: containerSecurity(),
					}},
					ImagePullSecrets: o.pullSecrets(),
				},
			},
		},
	}, o.after(deps...)...)
}

// terminationGrace is the pods' termination grace period in whole
// seconds: the app's stop timeout plus StopMargin, rounded up.
func terminationGrace(stop time.Duration) int {
	return int(math.Ceil((stop + StopMargin).Seconds()))
}

func httpProbe(path string, period, failures int) *corev1.ProbeArgs {
	return &corev1.ProbeArgs{
		HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
		PeriodSeconds:    pulumi.Int(period),
		TimeoutSeconds:   pulumi.Int(3),
		FailureThreshold: pulumi.Int(failures),
	}
}

// deployment runs the app: rolling with no pod missing, after the
// migration Job.
func (o *appObjects) deployment(envHash pulumi.StringOutput, secret *corev1.Secret, job *batchv1.Job) (*appsv1.Deployment, error) {
	a := o.a
	liveness := httpProbe("/healthz", 10, 3)
	return appsv1.NewDeployment(o.ctx, "app", &appsv1.DeploymentArgs{
		Metadata: appMeta(AppName),
		Spec: &appsv1.DeploymentSpecArgs{
			// The HPA owns the count after creation (ignoreChanges below).
			Replicas:             pulumi.Int(a.PodsMin),
			RevisionHistoryLimit: pulumi.Int(5),
			Selector:             appSelector(),
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxUnavailable: pulumi.Int(0),
					MaxSurge:       pulumi.Int(1),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels: appLabels(),
					// A new environment rolls the pods (the Secret alone would not).
					Annotations: pulumi.StringMap{"flavormonk/env-hash": envHash},
				},
				Spec: &corev1.PodSpecArgs{
					SecurityContext: podSecurity(),
					// Deleting a pod sends SIGTERM at once and takes it out
					// of the Service's endpoints meanwhile; the app drains
					// (FLAVORMONK_DRAIN_DELAY: /readyz 503, still serving)
					// while that reaches every node, then finishes in-flight
					// requests. That is the preStop a `sleep` would be, in
					// the app: the image has no shell for an exec hook, and
					// a sleep handler (Kubernetes 1.30+) would only add to
					// the app's own drain. The grace period allows all of it.
					TerminationGracePeriodSeconds: pulumi.Int(terminationGrace(a.StopTimeout)),
					AutomountServiceAccountToken:  pulumi.Bool(false),
					TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
						MaxSkew:           pulumi.Int(1),
						TopologyKey:       pulumi.String("kubernetes.io/hostname"),
						WhenUnsatisfiable: pulumi.String("ScheduleAnyway"),
						LabelSelector:     appSelector(),
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
					ImagePullSecrets: o.pullSecrets(),
				},
			},
		},
	}, append(o.after(secret, job), pulumi.IgnoreChanges([]string{"spec.replicas"}))...)
}

// publicService is the public entry. It carries the app's port only;
// /metrics is not on it.
func (o *appObjects) publicService(dep *appsv1.Deployment) (*corev1.Service, error) {
	a := o.a
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
	meta := appMeta(AppName)
	spec := &corev1.ServiceSpecArgs{Type: pulumi.String(string(a.Service)), Selector: appSelector().MatchLabels, Ports: ports}
	if a.Service == LoadBalancer {
		meta.Annotations = a.Annotations
		// Client addresses survive (the app trusts the LB's forwarded-for).
		spec.ExternalTrafficPolicy = pulumi.String("Cluster")
	}
	return corev1.NewService(o.ctx, "app-public", &corev1.ServiceArgs{Metadata: meta, Spec: spec}, o.after(dep)...)
}

// metricsService serves /metrics inside the cluster only (ClusterIP).
func (o *appObjects) metricsService() error {
	_, err := corev1.NewService(o.ctx, "app-metrics", &corev1.ServiceArgs{
		Metadata: appMeta("flavormonk-metrics"),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: appSelector().MatchLabels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("metrics"), Port: pulumi.Int(MetricsPort), TargetPort: pulumi.String("metrics"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, o.opts...)
	return err
}

// networkPolicy admits the app's port from anywhere and /metrics from
// inside the cluster only: an empty namespaceSelector matches every pod of
// every namespace and no outside address.
func (o *appObjects) networkPolicy() error {
	_, err := networkingv1.NewNetworkPolicy(o.ctx, "app-network", &networkingv1.NetworkPolicyArgs{
		Metadata: appMeta(AppName),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: *appSelector(),
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
	}, o.opts...)
	return err
}

// autoscaler scales the Deployment on CPU between PodsMin and PodsMax.
func (o *appObjects) autoscaler(dep *appsv1.Deployment) error {
	_, err := autoscalingv2.NewHorizontalPodAutoscaler(o.ctx, "app-hpa", &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: appMeta(AppName),
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(AppName),
			},
			MinReplicas: pulumi.Int(o.a.PodsMin),
			MaxReplicas: pulumi.Int(o.a.PodsMax),
			Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name:   pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(o.a.TargetCPU)},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
				// Shrink slowly: five minutes of lower load first.
				ScaleDown: &autoscalingv2.HPAScalingRulesArgs{StabilizationWindowSeconds: pulumi.Int(300)},
			},
		},
	}, o.after(dep)...)
	return err
}

// disruptionBudget: voluntary disruptions (node drains, upgrades) take one
// pod at a time.
func (o *appObjects) disruptionBudget() error {
	_, err := policyv1.NewPodDisruptionBudget(o.ctx, "app-pdb", &policyv1.PodDisruptionBudgetArgs{
		Metadata: appMeta(AppName),
		Spec: &policyv1.PodDisruptionBudgetSpecArgs{
			MaxUnavailable: pulumi.Int(1),
			Selector:       appSelector(),
		},
	}, o.opts...)
	return err
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
