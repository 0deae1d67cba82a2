package kube

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RegistrySecret is the app's image pull secret, when its registry is
// private.
const RegistrySecret = "flavormonk-registry"

// RegistryArgs are the credentials the kubelet pulls the app's image with.
type RegistryArgs struct {
	// Server is the registry's key in the Docker config (plan.RegistryPlan.AuthKey).
	Server   string
	Username string
	// Password is the registry token (secret).
	Password pulumi.StringOutput
}

// DockerConfigJSON is the content of a kubernetes.io/dockerconfigjson
// Secret for one registry, in the shape docker login writes.
func DockerConfigJSON(server, username, password string) (string, error) {
	if server == "" || username == "" || password == "" {
		return "", fmt.Errorf("kube: the registry pull secret needs a server, a username and a password")
	}
	type auth struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Auth     string `json:"auth"`
	}
	b, err := json.Marshal(map[string]map[string]auth{"auths": {server: {
		Username: username,
		Password: password,
		Auth:     base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}}})
	return string(b), err
}

// registrySecret holds the registry login the app's pods pull with.
func (o *appObjects) registrySecret() (*corev1.Secret, error) {
	r := o.a.Registry
	cfg := r.Password.ApplyT(func(pw string) (string, error) { return DockerConfigJSON(r.Server, r.Username, pw) }).(pulumi.StringOutput)
	return corev1.NewSecret(o.ctx, "registry-credentials", &corev1.SecretArgs{
		Metadata:   appMeta(RegistrySecret),
		Type:       pulumi.String("kubernetes.io/dockerconfigjson"),
		StringData: pulumi.ToSecret(pulumi.StringMap{".dockerconfigjson": cfg}).(pulumi.StringMapOutput),
	}, o.opts...)
}

// pullSecrets is a pod's imagePullSecrets: the registry's, or none (nil
// leaves the field out) for a public image.
func (o *appObjects) pullSecrets() corev1.LocalObjectReferenceArrayInput {
	if o.a.Registry == nil {
		return nil
	}
	return corev1.LocalObjectReferenceArray{corev1.LocalObjectReferenceArgs{Name: pulumi.String(RegistrySecret)}}
}
