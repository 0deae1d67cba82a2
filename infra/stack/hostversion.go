package stack

import (
	_ "embed"
	"fmt"
	"regexp"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

//go:embed chroma-version.sh
var chromaVersionSh string

var chromaRelease = regexp.MustCompile(`^[1-9][0-9]*\.[0-9]+\.[0-9]+$`)

// ChromaVersion brings a running Chroma host to the pinned chromadb/chroma
// version: user data never re-runs, so without it a new pin would reach a
// new host only. Its trigger is the version, so a new pin re-runs it (pull,
// rewrite host.env, restart, wait for the heartbeat) and nothing else does;
// on a new host it finds the version already running and does nothing.
//
// Only 1.x releases are accepted: 0.x keeps its data under another path in
// the container and a different on-disk format, so crossing from 0.x is a
// rebuild from the store, not a restart.
func ChromaVersion(ctx *pulumi.Context, h Host, in *Inputs, version string) (*remote.Command, error) {
	if !chromaRelease.MatchString(version) {
		return nil, fmt.Errorf("chroma version %q: want a 1.x release like 1.0.20", version)
	}
	return remote.NewCommand(ctx, "chroma-version", &remote.CommandArgs{
		Connection: connection(h, in),
		Create:     pulumi.String(booted + "sudo bash -s -- chromadb/chroma:" + version),
		Stdin:      pulumi.String(chromaVersionSh),
		Triggers:   pulumi.Array{pulumi.String(version)},
	}, pulumi.DependsOn([]pulumi.Resource{h.Resource}))
}
