package hetzner

import (
	"strings"
	"testing"
)

func TestPublicKubeconfig(t *testing.T) {
	raw := "apiVersion: v1\nclusters:\n- cluster:\n    server: https://127.0.0.1:6443\n  name: default\n"
	got, err := publicKubeconfig(raw, "203.0.113.7")
	if err != nil || !strings.Contains(got, "server: https://203.0.113.7:6443") || strings.Contains(got, "127.0.0.1") {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := publicKubeconfig("sudo: a password is required\n", "203.0.113.7"); err == nil {
		t.Error("accepted something that is not a kubeconfig")
	}
}
