package kube

import (
	apiregistrationv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiregistration/v1"
	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// MetricsServerImage pins metrics-server (kubernetes-sigs), which the HPA
// reads CPU use from. k3s ships it; DOKS offers it only as a marketplace
// add-on, so the program installs it there.
const MetricsServerImage = "registry.k8s.io/metrics-server/metrics-server:v0.8.0"

// metricsServer declares metrics-server's upstream manifest (components.yaml
// of v0.8.0) as typed objects, one function each: no Helm or YAML package
// needed.
func metricsServer(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	for _, declare := range []func(*pulumi.Context, []pulumi.ResourceOption) error{
		msServiceAccount, msAggregatedReader, msRole, msAuthReader, msAuthDelegator, msRoleBinding,
	} {
		if err := declare(ctx, opts); err != nil {
			return err
		}
	}
	svc, err := msService(ctx, opts)
	if err != nil {
		return err
	}
	dep, err := msDeployment(ctx, opts)
	if err != nil {
		return err
	}
	return msAPIService(ctx, append(opts[:len(opts):len(opts)], pulumi.DependsOn([]pulumi.Resource{svc, dep})))
}

const msNamespace, msName = "kube-system", "metrics-server"

func msLabels() pulumi.StringMap { return pulumi.StringMap{"k8s-app": pulumi.String(msName)} }

func msMeta(n string, namespaced bool) *metav1.ObjectMetaArgs {
	m := &metav1.ObjectMetaArgs{Name: pulumi.String(n), Labels: msLabels()}
	if namespaced {
		m.Namespace = pulumi.String(msNamespace)
	}
	return m
}

// msSubject is metrics-server's service account, which the bindings name.
func msSubject() *rbacv1.SubjectArgs {
	return &rbacv1.SubjectArgs{Kind: pulumi.String("ServiceAccount"), Name: pulumi.String(msName), Namespace: pulumi.String(msNamespace)}
}

func msServiceAccount(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := corev1.NewServiceAccount(ctx, "metrics-server-sa", &corev1.ServiceAccountArgs{Metadata: msMeta(msName, true)}, opts...)
	return err
}

// msAggregatedReader lets admins, editors and viewers read the metrics.
func msAggregatedReader(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	aggLabels := pulumi.StringMap{
		"k8s-app": pulumi.String(msName),
		"rbac.authorization.k8s.io/aggregate-to-admin": pulumi.String("true"),
		"rbac.authorization.k8s.io/aggregate-to-edit":  pulumi.String("true"),
		"rbac.authorization.k8s.io/aggregate-to-view":  pulumi.String("true"),
	}
	_, err := rbacv1.NewClusterRole(ctx, "metrics-server-aggregated-reader", &rbacv1.ClusterRoleArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("system:aggregated-metrics-reader"), Labels: aggLabels},
		Rules: rbacv1.PolicyRuleArray{rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.ToStringArray([]string{"metrics.k8s.io"}),
			Resources: pulumi.ToStringArray([]string{"pods", "nodes"}),
			Verbs:     pulumi.ToStringArray([]string{"get", "list", "watch"}),
		}},
	}, opts...)
	return err
}

func msRole(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := rbacv1.NewClusterRole(ctx, "metrics-server-role", &rbacv1.ClusterRoleArgs{
		Metadata: msMeta("system:metrics-server", false),
		Rules: rbacv1.PolicyRuleArray{
			rbacv1.PolicyRuleArgs{
				ApiGroups: pulumi.ToStringArray([]string{""}),
				Resources: pulumi.ToStringArray([]string{"nodes/metrics"}),
				Verbs:     pulumi.ToStringArray([]string{"get"}),
			},
			rbacv1.PolicyRuleArgs{
				ApiGroups: pulumi.ToStringArray([]string{""}),
				Resources: pulumi.ToStringArray([]string{"pods", "nodes"}),
				Verbs:     pulumi.ToStringArray([]string{"get", "list", "watch"}),
			},
		},
	}, opts...)
	return err
}

func msAuthReader(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := rbacv1.NewRoleBinding(ctx, "metrics-server-auth-reader", &rbacv1.RoleBindingArgs{
		Metadata: msMeta("metrics-server-auth-reader", true),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Role"), Name: pulumi.String("extension-apiserver-authentication-reader")},
		Subjects: rbacv1.SubjectArray{msSubject()},
	}, opts...)
	return err
}

func msAuthDelegator(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := rbacv1.NewClusterRoleBinding(ctx, "metrics-server-auth-delegator", &rbacv1.ClusterRoleBindingArgs{
		Metadata: msMeta("metrics-server:system:auth-delegator", false),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("system:auth-delegator")},
		Subjects: rbacv1.SubjectArray{msSubject()},
	}, opts...)
	return err
}

func msRoleBinding(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := rbacv1.NewClusterRoleBinding(ctx, "metrics-server-binding", &rbacv1.ClusterRoleBindingArgs{
		Metadata: msMeta("system:metrics-server", false),
		RoleRef:  rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"), Name: pulumi.String("system:metrics-server")},
		Subjects: rbacv1.SubjectArray{msSubject()},
	}, opts...)
	return err
}

func msService(ctx *pulumi.Context, opts []pulumi.ResourceOption) (*corev1.Service, error) {
	return corev1.NewService(ctx, "metrics-server-service", &corev1.ServiceArgs{
		Metadata: msMeta(msName, true),
		Spec: &corev1.ServiceSpecArgs{
			Selector: msLabels(),
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("https"), Port: pulumi.Int(443), TargetPort: pulumi.String("https"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, opts...)
}

func msDeployment(ctx *pulumi.Context, opts []pulumi.ResourceOption) (*appsv1.Deployment, error) {
	return appsv1.NewDeployment(ctx, "metrics-server", &appsv1.DeploymentArgs{
		Metadata: msMeta(msName, true),
		Spec: &appsv1.DeploymentSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: msLabels()},
			Strategy: &appsv1.DeploymentStrategyArgs{RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(0)}},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: msLabels()},
				Spec: &corev1.PodSpecArgs{
					ServiceAccountName: pulumi.String(msName),
					PriorityClassName:  pulumi.String("system-cluster-critical"),
					NodeSelector:       pulumi.StringMap{"kubernetes.io/os": pulumi.String("linux")},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:            pulumi.String(msName),
						Image:           pulumi.String(MetricsServerImage),
						ImagePullPolicy: pulumi.String("IfNotPresent"),
						Args: pulumi.ToStringArray([]string{
							"--cert-dir=/tmp",
							"--secure-port=10250",
							"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
							"--kubelet-use-node-status-port",
							"--metric-resolution=15s",
						}),
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{Name: pulumi.String("https"), ContainerPort: pulumi.Int(10250), Protocol: pulumi.String("TCP")}},
						ReadinessProbe: &corev1.ProbeArgs{
							HttpGet:             &corev1.HTTPGetActionArgs{Path: pulumi.String("/readyz"), Port: pulumi.String("https"), Scheme: pulumi.String("HTTPS")},
							InitialDelaySeconds: pulumi.Int(20),
							PeriodSeconds:       pulumi.Int(10),
							FailureThreshold:    pulumi.Int(3),
						},
						LivenessProbe: &corev1.ProbeArgs{
							HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String("/livez"), Port: pulumi.String("https"), Scheme: pulumi.String("HTTPS")},
							PeriodSeconds:    pulumi.Int(10),
							FailureThreshold: pulumi.Int(3),
						},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("200Mi")},
						},
						SecurityContext: &corev1.SecurityContextArgs{
							AllowPrivilegeEscalation: pulumi.Bool(false),
							ReadOnlyRootFilesystem:   pulumi.Bool(true),
							RunAsNonRoot:             pulumi.Bool(true),
							RunAsUser:                pulumi.Int(1000),
							SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
							Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
						},
						VolumeMounts: corev1.VolumeMountArray{corev1.VolumeMountArgs{Name: pulumi.String("tmp-dir"), MountPath: pulumi.String("/tmp")}},
					}},
					Volumes: corev1.VolumeArray{corev1.VolumeArgs{Name: pulumi.String("tmp-dir"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{}}},
				},
			},
		},
	}, opts...)
}

func msAPIService(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := apiregistrationv1.NewAPIService(ctx, "metrics-server-apiservice", &apiregistrationv1.APIServiceArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("v1beta1.metrics.k8s.io"), Labels: msLabels()},
		Spec: &apiregistrationv1.APIServiceSpecArgs{
			Group:                 pulumi.String("metrics.k8s.io"),
			Version:               pulumi.String("v1beta1"),
			GroupPriorityMinimum:  pulumi.Int(100),
			VersionPriority:       pulumi.Int(100),
			InsecureSkipTLSVerify: pulumi.Bool(true), // upstream's default: self-signed serving cert
			Service:               &apiregistrationv1.ServiceReferenceArgs{Name: pulumi.String(msName), Namespace: pulumi.String(msNamespace)},
		},
	}, opts...)
	return err
}
