package kube

import (
	"fmt"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Redis Sentinel in the cluster (Hetzner scale): three Sentinels watch the
// Redis primary and replica on the data hosts and promote the replica when
// the primary fails. They run as pods so that three of them exist without
// a third Redis machine, and the app finds them through one Service.
const (
	SentinelName  = "redis-sentinel"
	SentinelPort  = 26379
	SentinelImage = "redis:7.4.6-alpine"
	// SentinelAddr is where the app (in the cluster) reaches the Sentinels.
	SentinelAddr = "redis-sentinel.flavormonk.svc.cluster.local:26379"
	// sentinelReplicas and sentinelQuorum: two of three agree on a failure.
	sentinelReplicas = 3
	sentinelQuorum   = 2
)

// SentinelArgs configure the Sentinels.
type SentinelArgs struct {
	// Master is the name the app asks the Sentinels for.
	Master string
	// Primary is the Redis primary's private address; Port its port.
	Primary string
	Port    int
	// Password is Redis' requirepass, which the Sentinels also require of
	// their clients (the app sends it to them) and of each other (secret).
	Password pulumi.StringOutput
}

// SentinelConf renders sentinel.conf. Sentinel rewrites its file at run
// time (the current primary, the known replicas and Sentinels, the epoch),
// so the pod copies it from the Secret into a writable volume only when the
// volume has none: a restarted container keeps what it learned (a changed
// configuration changes the pod template's hash, hence a fresh pod).
func SentinelConf(a *SentinelArgs, password string) string {
	return fmt.Sprintf(`# Flavor Monk: Redis Sentinel (rendered by infra/kube)
port %d
sentinel resolve-hostnames no
sentinel monitor %s %s %d %d
sentinel auth-pass %s %s
sentinel down-after-milliseconds %s 5000
sentinel failover-timeout %s 60000
sentinel parallel-syncs %s 1
requirepass %s
sentinel sentinel-pass %s
`, SentinelPort, a.Master, a.Primary, a.Port, sentinelQuorum, a.Master, password, a.Master, a.Master, a.Master, password, password)
}

func sentinel(ctx *pulumi.Context, a *SentinelArgs, opts []pulumi.ResourceOption) error {
	if a.Master == "" || a.Primary == "" || a.Port == 0 {
		return fmt.Errorf("kube: Sentinel needs the master name, the primary's address and port")
	}
	conf := a.Password.ApplyT(func(pw string) string { return SentinelConf(a, pw) }).(pulumi.StringOutput)
	secret, err := sentinelSecret(ctx, conf, opts)
	if err != nil {
		return err
	}
	if err := sentinelDeployment(ctx, conf, append(opts[:len(opts):len(opts)], pulumi.DependsOn([]pulumi.Resource{secret}))); err != nil {
		return err
	}
	if err := sentinelService(ctx, opts); err != nil {
		return err
	}
	return sentinelPDB(ctx, opts)
}

func sentinelLabels() pulumi.StringMap {
	return pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(SentinelName), "app.kubernetes.io/part-of": pulumi.String("flavormonk")}
}

func sentinelSelector() *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String(SentinelName)}}
}

func sentinelMeta() *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(SentinelName), Namespace: pulumi.String(Namespace), Labels: sentinelLabels()}
}

// sentinelSecret holds sentinel.conf, password included.
func sentinelSecret(ctx *pulumi.Context, conf pulumi.StringOutput, opts []pulumi.ResourceOption) (*corev1.Secret, error) {
	return corev1.NewSecret(ctx, "sentinel-conf", &corev1.SecretArgs{
		Metadata:   sentinelMeta(),
		Type:       pulumi.String("Opaque"),
		StringData: pulumi.ToSecret(pulumi.StringMap{"sentinel.conf": conf}).(pulumi.StringMapOutput),
	}, opts...)
}

// sentinelDeployment runs the three Sentinels, one node each where there
// are nodes enough.
func sentinelDeployment(ctx *pulumi.Context, conf pulumi.StringOutput, opts []pulumi.ResourceOption) error {
	probe := &corev1.ProbeArgs{
		TcpSocket:     &corev1.TCPSocketActionArgs{Port: pulumi.String("sentinel")},
		PeriodSeconds: pulumi.Int(10),
	}
	_, err := appsv1.NewDeployment(ctx, "sentinel", &appsv1.DeploymentArgs{
		Metadata: sentinelMeta(),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas: pulumi.Int(sentinelReplicas),
			Selector: sentinelSelector(),
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type:          pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxUnavailable: pulumi.Int(1), MaxSurge: pulumi.Int(0)},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{
					Labels:      sentinelLabels(),
					Annotations: pulumi.StringMap{"flavormonk/conf-hash": pulumi.Unsecret(conf.ApplyT(Hash)).(pulumi.StringOutput)},
				},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken: pulumi.Bool(false),
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(999), RunAsGroup: pulumi.Int(1000), FsGroup: pulumi.Int(1000),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					// One Sentinel per node where there are nodes enough.
					TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{corev1.TopologySpreadConstraintArgs{
						MaxSkew: pulumi.Int(1), TopologyKey: pulumi.String("kubernetes.io/hostname"),
						WhenUnsatisfiable: pulumi.String("ScheduleAnyway"), LabelSelector: sentinelSelector(),
					}},
					Containers: corev1.ContainerArray{corev1.ContainerArgs{
						Name:    pulumi.String("sentinel"),
						Image:   pulumi.String(SentinelImage),
						Command: pulumi.ToStringArray([]string{"sh", "-c", "[ -f /data/sentinel.conf ] || cp /conf/sentinel.conf /data/sentinel.conf; exec redis-sentinel /data/sentinel.conf"}),
						Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
							Name: pulumi.String("sentinel"), ContainerPort: pulumi.Int(SentinelPort), Protocol: pulumi.String("TCP"),
						}},
						ReadinessProbe: probe,
						LivenessProbe:  probe,
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("20m"), "memory": pulumi.String("32Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("200m"), "memory": pulumi.String("64Mi")},
						},
						SecurityContext: containerSecurity(),
						VolumeMounts: corev1.VolumeMountArray{
							corev1.VolumeMountArgs{Name: pulumi.String("conf"), MountPath: pulumi.String("/conf"), ReadOnly: pulumi.Bool(true)},
							corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")},
						},
					}},
					Volumes: corev1.VolumeArray{
						corev1.VolumeArgs{Name: pulumi.String("conf"), Secret: &corev1.SecretVolumeSourceArgs{SecretName: pulumi.String(SentinelName), DefaultMode: pulumi.Int(0o400)}},
						corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("16Mi")}},
					},
				},
			},
		},
	}, opts...)
	return err
}

func sentinelService(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := corev1.NewService(ctx, "sentinel-service", &corev1.ServiceArgs{
		Metadata: sentinelMeta(),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: sentinelSelector().MatchLabels,
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String("sentinel"), Port: pulumi.Int(SentinelPort), TargetPort: pulumi.String("sentinel"), Protocol: pulumi.String("TCP"),
			}},
		},
	}, opts...)
	return err
}

// sentinelPDB keeps a quorum of Sentinels through voluntary disruptions.
func sentinelPDB(ctx *pulumi.Context, opts []pulumi.ResourceOption) error {
	_, err := policyv1.NewPodDisruptionBudget(ctx, "sentinel-pdb", &policyv1.PodDisruptionBudgetArgs{
		Metadata: sentinelMeta(),
		Spec:     &policyv1.PodDisruptionBudgetSpecArgs{MinAvailable: pulumi.Int(sentinelQuorum), Selector: sentinelSelector()},
	}, opts...)
	return err
}
